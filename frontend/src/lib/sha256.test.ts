import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { newSalt, saltFromHex, saltToHex, saltedSha256, sha256Bytes, sha256Chunked } from './sha256'

const text = (s: string) => new Blob([s])

describe('sha256Chunked', () => {
  // FIPS 180-2 / NIST test vectors.
  it.each([
    ['', '0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', '0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', '0x248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'],
  ])('hashes %j to the known digest', async (input, expected) => {
    expect(await sha256Chunked(text(input))).toBe(expected)
    expect(await sha256Chunked(text(input), { chunkSize: 1 })).toBe(expected)
  })

  it('hashes one million "a" in uneven chunks to the known digest', async () => {
    const blob = new Blob(['a'.repeat(1_000_000)])
    expect(await sha256Chunked(blob, { chunkSize: 65_537 })).toBe('0xcdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0')
  })

  it('gives the same digest whatever the chunk size, equal to node and WebCrypto', async () => {
    const bytes = new Uint8Array(randomBytes(300_001))
    const expected = `0x${createHash('sha256').update(bytes).digest('hex')}`
    const blob = new Blob([bytes])
    for (const chunkSize of [1_000, 4_096, 65_536, 299_999, 1_000_000]) {
      expect(await sha256Chunked(blob, { chunkSize })).toBe(expected)
    }
    expect(await sha256Bytes(bytes)).toBe(expected)
  })

  it('reports progress up to the total and can be aborted', async () => {
    const blob = new Blob([new Uint8Array(10_000)])
    const seen: number[] = []
    await sha256Chunked(blob, { chunkSize: 3_000, onProgress: (done, total) => (expect(total).toBe(10_000), seen.push(done)) })
    expect(seen).toEqual([0, 3_000, 6_000, 9_000, 10_000])

    const controller = new AbortController()
    controller.abort()
    await expect(sha256Chunked(blob, { signal: controller.signal })).rejects.toThrow(/abort/)
    await expect(sha256Chunked(blob, { chunkSize: 0 })).rejects.toThrow(/chunkSize/)
  })
})

describe('salted content hash', () => {
  // Known answer, computed with Python: hashlib.sha256(bytes(range(32)) + b"abc").hexdigest()
  const salt = Uint8Array.from({ length: 32 }, (_, i) => i)
  it('is SHA-256(salt ‖ file), equal to a value computed elsewhere', async () => {
    expect(await saltedSha256(text('abc'), salt)).toBe('0x42fd4a8c529fdb402d577c701b291018f0b2c52207f96e2a057483fd349a9868')
  })

  it('equals node crypto over salt then file, whatever the chunk size, and differs from the plain hash', async () => {
    const bytes = new Uint8Array(randomBytes(100_003))
    const fresh = newSalt()
    const expected = `0x${createHash('sha256').update(fresh).update(bytes).digest('hex')}`
    for (const chunkSize of [1_000, 65_536, 1_000_000]) {
      expect(await saltedSha256(new Blob([bytes]), fresh, { chunkSize })).toBe(expected)
    }
    expect(expected).not.toBe(await sha256Chunked(new Blob([bytes])))
  })

  it('draws a fresh 32-byte salt each time and spells it as 0x + 64 hex', () => {
    const a = newSalt()
    const b = newSalt()
    expect(a.length).toBe(32)
    expect(saltToHex(a)).not.toBe(saltToHex(b))
    expect(saltToHex(a)).toMatch(/^0x[0-9a-f]{64}$/)
    expect(saltFromHex(saltToHex(a))).toEqual(a)
    expect(() => saltFromHex('0x1234')).toThrow(/64 hex/)
    expect(() => saltedSha256(text('x'), new Uint8Array(31))).toThrow(/32 bytes/)
  })
})
