/**
 * SHA-256 of a file, read in chunks so memory stays flat and the page stays responsive, and the
 * salted content hash SHA-256(salt ‖ file) a record is anchored with.
 *
 * `crypto.subtle.digest` has no streaming mode, so the running hash is @noble/hashes' incremental
 * SHA-256; the file is sliced into `chunkSize` pieces and read one at a time. In the app this runs in
 * a Web Worker (see sha256.worker.ts); the same function works on the main thread, where it yields to
 * the event loop between chunks.
 */
import { sha256 } from '@noble/hashes/sha2'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils'

export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
/** Bytes of a record's salt: the chain holds SHA-256(salt ‖ file), never the file's own hash. */
export const SALT_SIZE = 32

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
  /** Bytes hashed before the input (a record's salt); not counted in the progress. */
  prefix?: Uint8Array
}

async function readChunk(blob: Blob): Promise<Uint8Array> {
  return new Uint8Array(await blob.arrayBuffer())
}

/** `0x`-prefixed lower-case hex SHA-256 of the whole input, as the backend and the contract use. */
export async function sha256Chunked(input: Sliceable, options: HashOptions = {}): Promise<`0x${string}`> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new Error('chunkSize must be a positive integer')
  const hash = sha256.create()
  if (options.prefix) hash.update(options.prefix)
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

/**
 * A fresh random salt for one record (`crypto.getRandomValues`). Without it, the on-chain hash of a
 * templated document (a standard form, a common result) could be confirmed by anyone who guesses it.
 */
export function newSalt(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SALT_SIZE))
}

/** A salt as the API spells it: `0x` + 64 lower-case hex characters. */
export function saltToHex(salt: Uint8Array): `0x${string}` {
  if (salt.length !== SALT_SIZE) throw new Error(`a salt is ${SALT_SIZE} bytes`)
  return `0x${bytesToHex(salt)}`
}

/** The salt bytes of `0x` + 64 hex characters. */
export function saltFromHex(text: string): Uint8Array {
  if (!/^0x[0-9a-fA-F]{64}$/.test(text)) throw new Error('a salt is 0x followed by 64 hex characters')
  return hexToBytes(text.slice(2))
}

/** The record's content hash: SHA-256(salt ‖ file), chunked like `sha256Chunked`. */
export function saltedSha256(input: Sliceable, salt: Uint8Array, options: Omit<HashOptions, 'prefix'> = {}): Promise<`0x${string}`> {
  if (salt.length !== SALT_SIZE) throw new Error(`a salt is ${SALT_SIZE} bytes`)
  return sha256Chunked(input, { ...options, prefix: salt })
}
