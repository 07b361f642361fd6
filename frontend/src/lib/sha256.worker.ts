/// <reference lib="webworker" />
// Hashes a File off the main thread: {id, file, chunkSize, tagKey} in; progress, then the salted digest
// (and the duplicate tag when a tag key came) or an error out. The worker draws the record's fresh salt
// itself, so the content hash is SHA-256(salt ‖ file) from the start. See uploadHashes.ts.
import { newSalt, saltToHex } from './sha256'
import { uploadHashes } from './uploadHashes'

export type HashRequest = { id: number; file: Blob; chunkSize?: number; tagKey?: Uint8Array | null }
export type HashReply =
  | { id: number; type: 'progress'; done: number; total: number }
  | { id: number; type: 'done'; hash: `0x${string}`; salt: `0x${string}`; duplicateTag: `0x${string}` | null }
  | { id: number; type: 'error'; message: string }

const scope = self as unknown as DedicatedWorkerGlobalScope

scope.onmessage = async (event: MessageEvent<HashRequest>) => {
  const { id, file, chunkSize, tagKey } = event.data
  let lastReport = 0
  try {
    const salt = newSalt()
    const { contentHash, duplicateTag } = await uploadHashes(file, salt, tagKey ?? null, {
      chunkSize,
      onProgress(done, total) {
        const now = Date.now()
        if (done === total || now - lastReport > 100) {
          lastReport = now
          scope.postMessage({ id, type: 'progress', done, total } satisfies HashReply)
        }
      },
    })
    scope.postMessage({ id, type: 'done', hash: contentHash, salt: saltToHex(salt), duplicateTag } satisfies HashReply)
  } catch (error) {
    scope.postMessage({ id, type: 'error', message: error instanceof Error ? error.message : String(error) } satisfies HashReply)
  }
}
