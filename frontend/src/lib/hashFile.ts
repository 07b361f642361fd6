// Salt and hash a File in a Web Worker when the browser has workers; otherwise on the main thread, chunk by chunk.
// With a duplicate-tag key (uploadHashes.ts) the same pass also yields the patient's duplicate tag.
import { newSalt, saltToHex } from './sha256'
import type { HashReply } from './sha256.worker'
import { uploadHashes } from './uploadHashes'

let nextId = 1

/** A record's content hash SHA-256(salt ‖ file) and the fresh random salt it was computed with. */
export interface SaltedHash {
  contentHash: `0x${string}`
  salt: `0x${string}`
  /** HMAC-SHA256 of the file under the duplicate-tag key, when one was given. */
  duplicateTag: `0x${string}` | null
}

async function onMainThread(
  file: Blob,
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
  tagKey: Uint8Array | null = null,
): Promise<SaltedHash> {
  const salt = newSalt()
  const { contentHash, duplicateTag } = await uploadHashes(file, salt, tagKey, { onProgress, signal, yieldBetweenChunks: true })
  return { contentHash, salt: saltToHex(salt), duplicateTag }
}

export function hashFile(
  file: Blob,
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
  tagKey: Uint8Array | null = null,
): Promise<SaltedHash> {
  if (typeof Worker === 'undefined') return onMainThread(file, onProgress, signal, tagKey)
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./sha256.worker.ts', import.meta.url), { type: 'module' })
    const id = nextId++
    const finish = () => {
      worker.terminate()
      signal?.removeEventListener('abort', onAbort)
    }
    const onAbort = () => {
      finish()
      reject(new DOMException('hashing aborted', 'AbortError'))
    }
    signal?.addEventListener('abort', onAbort)
    worker.onmessage = (event: MessageEvent<HashReply>) => {
      const reply = event.data
      if (reply.id !== id) return
      if (reply.type === 'progress') onProgress?.(reply.done, reply.total)
      else if (reply.type === 'done') {
        finish()
        resolve({ contentHash: reply.hash, salt: reply.salt, duplicateTag: reply.duplicateTag })
      } else {
        finish()
        reject(new Error(reply.message))
      }
    }
    worker.onerror = (event) => {
      finish()
      // A worker that fails to start (for example a strict CSP) falls back to the main thread.
      event.preventDefault()
      onMainThread(file, onProgress, signal, tagKey).then(resolve, reject)
    }
    worker.postMessage({ id, file, tagKey })
  })
}
