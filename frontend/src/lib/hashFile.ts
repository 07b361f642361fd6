// Salt and hash a File in a Web Worker when the browser has workers; otherwise on the main thread, chunk by chunk.
import { newSalt, saltedSha256, saltToHex } from './sha256'
import type { HashReply } from './sha256.worker'

let nextId = 1

/** A record's content hash SHA-256(salt ‖ file) and the fresh random salt it was computed with. */
export interface SaltedHash {
  contentHash: `0x${string}`
  salt: `0x${string}`
}

async function onMainThread(file: Blob, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<SaltedHash> {
  const salt = newSalt()
  const contentHash = await saltedSha256(file, salt, { onProgress, signal, yieldBetweenChunks: true })
  return { contentHash, salt: saltToHex(salt) }
}

export function hashFile(
  file: Blob,
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<SaltedHash> {
  if (typeof Worker === 'undefined') return onMainThread(file, onProgress, signal)
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
        resolve({ contentHash: reply.hash, salt: reply.salt })
      } else {
        finish()
        reject(new Error(reply.message))
      }
    }
    worker.onerror = (event) => {
      finish()
      // A worker that fails to start (for example a strict CSP) falls back to the main thread.
      event.preventDefault()
      onMainThread(file, onProgress, signal).then(resolve, reject)
    }
    worker.postMessage({ id, file })
  })
}
