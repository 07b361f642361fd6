import { describe, expect, it } from 'vitest'
import { createSiweMessage, parseSiweMessage } from 'viem/siwe'
import { formatSiweMessage, siweMessageFromNonce } from './siwe'

const ADDRESS_LOWER = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
const ADDRESS = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'
const ISSUED = new Date('2025-01-02T03:04:05.678Z')

describe('formatSiweMessage', () => {
  it('lays the message out exactly as EIP-4361 says', () => {
    const message = formatSiweMessage({
      domain: '127.0.0.1:8000',
      address: ADDRESS_LOWER,
      statement: 'Sign in to HealthLedger.',
      uri: 'http://127.0.0.1:8000',
      chainId: 31337,
      nonce: 'abcDEF12345',
      issuedAt: ISSUED,
      expirationTime: '2025-01-02T03:09:05.678Z',
    })
    expect(message).toBe(
      [
        '127.0.0.1:8000 wants you to sign in with your Ethereum account:',
        ADDRESS,
        '',
        'Sign in to HealthLedger.',
        '',
        'URI: http://127.0.0.1:8000',
        'Version: 1',
        'Chain ID: 31337',
        'Nonce: abcDEF12345',
        'Issued At: 2025-01-02T03:04:05.678Z',
        'Expiration Time: 2025-01-02T03:09:05.678Z',
      ].join('\n'),
    )
  })

  it('uses a single blank line when there is no statement', () => {
    const message = formatSiweMessage({ domain: 'example.com', address: ADDRESS, uri: 'https://example.com', chainId: 1, nonce: '12345678', issuedAt: ISSUED })
    expect(message.split('\n').slice(0, 4)).toEqual(['example.com wants you to sign in with your Ethereum account:', ADDRESS, '', 'URI: https://example.com'])
  })

  it('agrees with viem, field for field, and viem parses it back', () => {
    const fields = {
      domain: 'localhost:5173',
      address: ADDRESS,
      statement: 'Sign in to HealthLedger. This proves you hold this wallet; it costs nothing and approves nothing.',
      uri: 'http://localhost:5173',
      chainId: 31337,
      nonce: 'Zx9Yw8Vu7Ts6',
      issuedAt: ISSUED,
      expirationTime: new Date('2025-01-02T03:14:05.678Z'),
      resources: ['https://example.com/terms'],
    }
    const ours = formatSiweMessage(fields)
    expect(ours).toBe(createSiweMessage({ ...fields, address: ADDRESS, version: '1' }))
    const parsed = parseSiweMessage(ours)
    expect(parsed.address).toBe(ADDRESS)
    expect(parsed.chainId).toBe(31337)
    expect(parsed.nonce).toBe('Zx9Yw8Vu7Ts6')
    expect(parsed.statement).toBe(fields.statement)
    expect(parsed.expirationTime?.toISOString()).toBe('2025-01-02T03:14:05.678Z')
  })

  it('normalises the expiry from the nonce endpoint to RFC 3339 UTC', () => {
    const message = siweMessageFromNonce(
      {
        nonce: 'n0nceValue1',
        expires_at: '2025-01-02T03:09:05.123456+00:00',
        domain: 'health.example',
        uri: 'https://health.example',
        chain_id: 11155111,
        statement: 'Sign in.',
      },
      ADDRESS_LOWER,
      ISSUED,
    )
    expect(message).toContain('\nChain ID: 11155111\n')
    expect(message).toContain('\nExpiration Time: 2025-01-02T03:09:05.123Z')
    expect(message.startsWith('health.example wants you to sign in')).toBe(true)
  })

  it('rejects fields the backend parser would refuse', () => {
    const base = { domain: 'example.com', address: ADDRESS, uri: 'https://example.com', chainId: 1, nonce: '12345678', issuedAt: ISSUED }
    expect(() => formatSiweMessage({ ...base, nonce: 'short' })).toThrow(/nonce/)
    expect(() => formatSiweMessage({ ...base, nonce: 'has-dash-1234' })).toThrow(/nonce/)
    expect(() => formatSiweMessage({ ...base, statement: 'two\nlines' })).toThrow(/single line/)
    expect(() => formatSiweMessage({ ...base, address: '0x1234' })).toThrow()
    expect(() => formatSiweMessage({ ...base, chainId: 0 })).toThrow(/chain id/)
    expect(() => formatSiweMessage({ ...base, issuedAt: 'yesterday' })).toThrow(/time/)
  })
})
