/**
 * The two hashes the patient's upload needs, in one pass over the file (read chunk by chunk):
 * - the content hash SHA-256(salt ‖ file) the chain anchors, with a fresh random salt per upload;
 * - the duplicate tag HMAC-SHA256(K, file), K = SHA-256("healthledger/duplicate-tag/v1" ‖ the bytes of
 *   the patient's key signature), so the app can say "you added this on …" although every upload's
 *   salted hash differs.
 *
 * The server stores the tag with the record and shows it only in the patient's own list. Without the
 * key signature (which the server never stores) nobody can recompute K, so the tag does not let
 * anyone confirm a guess of the file; it only tells two uploads of the same file by the same patient
 * apart from the rest.
 */
import { hmac } from '@noble/hashes/hmac'
import { sha256 } from '@noble/hashes/sha2'
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils'
import { DEFAULT_CHUNK_SIZE, SALT_SIZE, type Sliceable } from './sha256'

export const DUPLICATE_TAG_DOMAIN = 'healthledger/duplicate-tag/v1'

/** K = SHA-256(domain ‖ signature bytes) of a `0x`-hex personal_sign signature (65 bytes). */
export function duplicateTagKey(keySignature: string): Uint8Array {
  if (!/^0x([0-9a-fA-F]{2})+$/.test(keySignature)) throw new Error('the key signature must be 0x-hex')
  const domain = utf8ToBytes(DUPLICATE_TAG_DOMAIN)
  const signature = hexToBytes(keySignature.slice(2))
  const input = new Uint8Array(domain.length + signature.length)
  input.set(domain)
  input.set(signature, domain.length)
  return sha256(input)
}

export interface UploadHashes {
  contentHash: `0x${string}`
  /** HMAC-SHA256(K, file) as `0x` + 64 hex; null when no key was given. */
  duplicateTag: `0x${string}` | null
}

export interface UploadHashOptions {
  chunkSize?: number
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
  /** Main thread only: let the page breathe between chunks. */
  yieldBetweenChunks?: boolean
}

/** Both hashes of `file`, reading it once. `tagKey` null: the content hash only. */
export async function uploadHashes(
  file: Sliceable,
  salt: Uint8Array,
  tagKey: Uint8Array | null,
  options: UploadHashOptions = {},
): Promise<UploadHashes> {
  if (salt.length !== SALT_SIZE) throw new Error(`a salt is ${SALT_SIZE} bytes`)
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new Error('chunkSize must be a positive integer')
  const content = sha256.create().update(salt)
  const tag = tagKey ? hmac.create(sha256, tagKey) : null
  const total = file.size
  let done = 0
  options.onProgress?.(0, total)
  while (done < total) {
    if (options.signal?.aborted) throw new DOMException('hashing aborted', 'AbortError')
    const end = Math.min(done + chunkSize, total)
    const chunk = new Uint8Array(await file.slice(done, end).arrayBuffer())
    content.update(chunk)
    tag?.update(chunk)
    done = end
    options.onProgress?.(done, total)
    if (options.yieldBetweenChunks) await new Promise((resolve) => setTimeout(resolve, 0))
  }
  return {
    contentHash: `0x${bytesToHex(content.digest())}`,
    duplicateTag: tag ? `0x${bytesToHex(tag.digest())}` : null,
  }
}
