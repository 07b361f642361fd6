// Hash a File in a Web Worker when the browser has workers; otherwise on the main thread, chunk by chunk.
import { sha256Chunked } from './sha256'
import type { HashReply } from './sha256.worker'

let nextId = 1

export function hashFile(
  file: Blob,
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<`0x${string}`> {
  if (typeof Worker === 'undefined') {
    return sha256Chunked(file, { onProgress, signal, yieldBetweenChunks: true })
  }
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
        resolve(reply.hash)
      } else {
        finish()
        reject(new Error(reply.message))
      }
    }
    worker.onerror = (event) => {
      finish()
      // A worker that fails to start (for example a strict CSP) falls back to the main thread.
      event.preventDefault()
      sha256Chunked(file, { onProgress, signal, yieldBetweenChunks: true }).then(resolve, reject)
    }
    worker.postMessage({ id, file })
  })
}
