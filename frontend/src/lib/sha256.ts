/**
 * SHA-256 of a file, read in chunks so memory stays flat and the page stays responsive.
 *
 * `crypto.subtle.digest` has no streaming mode, so the running hash is @noble/hashes' incremental
 * SHA-256; the file is sliced into `chunkSize` pieces and read one at a time. In the app this runs in
 * a Web Worker (see sha256.worker.ts); the same function works on the main thread, where it yields to
 * the event loop between chunks.
 */
import { sha256 } from '@noble/hashes/sha2'
import { bytesToHex } from '@noble/hashes/utils'

export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024

/** What `sha256Chunked` reads: a Blob (File) or anything sliceable into Blobs. */
export interface Sliceable {
  readonly size: number
  slice(start?: number, end?: number): Blob
}

export interface HashOptions {
  chunkSize?: number
  /** Called after every chunk with bytes hashed so far and the total. */
  onProgress?: (done: number, total: number) => void
  /** Abort hashing (for example when the user picks another file). */
  signal?: AbortSignal
  /** Yield to the event loop between chunks (main thread only; the worker doesn't need it). */
  yieldBetweenChunks?: boolean
}

async function readChunk(blob: Blob): Promise<Uint8Array> {
  return new Uint8Array(await blob.arrayBuffer())
}

/** `0x`-prefixed lower-case hex SHA-256 of the whole input, as the backend and the contract use. */
export async function sha256Chunked(input: Sliceable, options: HashOptions = {}): Promise<`0x${string}`> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new Error('chunkSize must be a positive integer')
  const hash = sha256.create()
  const total = input.size
  let done = 0
  options.onProgress?.(0, total)
  while (done < total) {
    if (options.signal?.aborted) throw new DOMException('hashing aborted', 'AbortError')
    const end = Math.min(done + chunkSize, total)
    hash.update(await readChunk(input.slice(done, end)))
    done = end
    options.onProgress?.(done, total)
    if (options.yieldBetweenChunks) await new Promise((resolve) => setTimeout(resolve, 0))
  }
  return `0x${bytesToHex(hash.digest())}`
}

/** One-shot SHA-256 of bytes with WebCrypto, for small inputs and cross-checks. */
export async function sha256Bytes(bytes: Uint8Array): Promise<`0x${string}`> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)
  return `0x${bytesToHex(new Uint8Array(digest))}`
}
