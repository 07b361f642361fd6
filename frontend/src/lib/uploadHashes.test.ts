import { describe, expect, it } from 'vitest'
import { duplicateTagKey, uploadHashes } from './uploadHashes'

// Known answers computed independently with Python's hashlib/hmac:
//   key = sha256(b"healthledger/duplicate-tag/v1" + sig); tag = hmac.new(key, file, sha256)
const SIGNATURE = `0x${'11'.repeat(32)}${'22'.repeat(32)}1b`
const KEY = '8b43e80554dd4ed32b30d3d9b0070ee2dd41a07fa271e7eafe7bc43f5daef863'
const bytes = (text: string) => new TextEncoder().encode(text)
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
const PATTERN = new Uint8Array(10240).map((_, i) => i % 256)

describe('duplicate tag', () => {
  it('derives K = SHA-256(domain ‖ signature bytes)', () => {
    expect(hex(duplicateTagKey(SIGNATURE))).toBe(KEY)
    expect(hex(duplicateTagKey(SIGNATURE.toUpperCase().replace('0X', '0x')))).toBe(KEY)
    expect(() => duplicateTagKey('not hex')).toThrow()
  })

  it('is HMAC-SHA256(K, file), the same for any salt and any chunking', async () => {
    const key = duplicateTagKey(SIGNATURE)
    const small = await uploadHashes(new Blob([bytes('the same scan, uploaded twice')]), new Uint8Array(32), key)
    expect(small.duplicateTag).toBe('0x04e8ef77b0acc349110d6e115e4245e6510738f7c6c7a839dea89562d525f993')

    const a = await uploadHashes(new Blob([PATTERN]), new Uint8Array(32).fill(7), key, { chunkSize: 1000 })
    const b = await uploadHashes(new Blob([PATTERN]), new Uint8Array(32).fill(9), key, { chunkSize: 4096 })
    expect(a.duplicateTag).toBe('0xce9932819bda820e706ab734481954847f37c9d476a7d7bb008aab350dfd949c')
    expect(b.duplicateTag).toBe(a.duplicateTag)
    // ...while the anchored content hash SHA-256(salt ‖ file) differs per salt.
    expect(a.contentHash).toBe('0x21484820a53ec7e2f73c8bcf363db55f0ebdf6f65c8950b01bc8de8c2b4e9f91')
    expect(b.contentHash).not.toBe(a.contentHash)
  })

  it('differs for another patient (another key signature) and is absent without a key', async () => {
    const other = duplicateTagKey(`0x${'33'.repeat(65)}`)
    const mine = await uploadHashes(new Blob([PATTERN]), new Uint8Array(32), duplicateTagKey(SIGNATURE))
    const theirs = await uploadHashes(new Blob([PATTERN]), new Uint8Array(32), other)
    expect(theirs.duplicateTag).not.toBe(mine.duplicateTag)
    expect((await uploadHashes(new Blob([PATTERN]), new Uint8Array(32), null)).duplicateTag).toBeNull()
  })
})
