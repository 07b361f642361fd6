/// <reference lib="webworker" />
// Hashes a File off the main thread: {id, file, chunkSize} in; progress, then the salted digest (or an error) out.
// The worker draws the record's fresh salt itself, so the content hash is SHA-256(salt ‖ file) from the start.
import { newSalt, saltedSha256, saltToHex } from './sha256'

export type HashRequest = { id: number; file: Blob; chunkSize?: number }
export type HashReply =
  | { id: number; type: 'progress'; done: number; total: number }
  | { id: number; type: 'done'; hash: `0x${string}`; salt: `0x${string}` }
  | { id: number; type: 'error'; message: string }

const scope = self as unknown as DedicatedWorkerGlobalScope

scope.onmessage = async (event: MessageEvent<HashRequest>) => {
  const { id, file, chunkSize } = event.data
  let lastReport = 0
  try {
    const salt = newSalt()
    const hash = await saltedSha256(file, salt, {
      chunkSize,
      onProgress(done, total) {
        const now = Date.now()
        if (done === total || now - lastReport > 100) {
          lastReport = now
          scope.postMessage({ id, type: 'progress', done, total } satisfies HashReply)
        }
      },
    })
    scope.postMessage({ id, type: 'done', hash, salt: saltToHex(salt) } satisfies HashReply)
  } catch (error) {
    scope.postMessage({ id, type: 'error', message: error instanceof Error ? error.message : String(error) } satisfies HashReply)
  }
}
