import { describe, expect, it } from 'vitest'
import { txUrl } from '../../lib/explorer'
import { viewsText } from './RecordViews'
import { NOW } from './testEvents'

const TX = `0x${'ab'.repeat(32)}`

describe('transaction links', () => {
  it('links a transaction when an http(s) explorer is configured, else not', () => {
    expect(txUrl('https://sepolia.etherscan.io', TX)).toBe(`https://sepolia.etherscan.io/tx/${TX}`)
    expect(txUrl('https://explorer.example/base/', TX)).toBe(`https://explorer.example/base/tx/${TX}`)
    expect(txUrl(undefined, TX)).toBeNull()
    expect(txUrl('', TX)).toBeNull()
    expect(txUrl('javascript:alert(1)', TX)).toBeNull()
    expect(txUrl('not a url', TX)).toBeNull()
    expect(txUrl('https://sepolia.etherscan.io', '0xnothex')).toBeNull()
  })
})

describe('views of a shared record', () => {
  it('reads "viewed 2×, last <day>", nothing when nobody else opened it', () => {
    expect(viewsText({ views: 2, last_viewed_at: '2026-11-29T12:00:00+00:00' }, NOW)).toMatch(/^viewed 2×, last Nov 29$/)
    expect(viewsText({ views: 0, last_viewed_at: '2026-11-29T12:00:00+00:00' }, NOW)).toBeNull()
    expect(viewsText(undefined, NOW)).toBeNull()
  })
})
