import { describe, expect, it } from 'vitest'
import type { Bill } from '../api/bills'
import { amountText, billsByRecord, billStatus, defaultDueDate, dueDateSeconds, dueDateText, formatAmount, isEth, parseAmount, parseTxHash, receiptView, sortBills } from './bills'

const TUSD = { address: '0x5FbDB2315678afecb367f032d93F642f64180aa3', symbol: 'TUSD', name: 'Test USD', decimals: 6, permit: true }
const ETH = { address: '0x0000000000000000000000000000000000000000', symbol: 'ETH', name: 'Ether', decimals: 18, permit: false }

function bill(patch: Partial<Bill> = {}): Bill {
  return {
    billId: '0x' + '1'.repeat(64),
    patient: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
    payee: '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65',
    issuer: '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65',
    token: TUSD,
    amount: '120000000',
    paid: '0',
    refunded: '0',
    remaining: '120000000',
    dueDate: 1_800_000_000,
    recordId: 7,
    status: 'open',
    overdue: false,
    issuedTx: '0x' + 'a'.repeat(64),
    issuedBlock: 10,
    issuedAt: null,
    payments: [],
    refunds: [],
    cancelledTx: null,
    ...patch,
  }
}

describe('amounts', () => {
  it('formats base units in whole tokens, uint256-safe', () => {
    expect(formatAmount('120500000', TUSD)).toBe('120.5 TUSD')
    expect(formatAmount('1', TUSD)).toBe('0.000001 TUSD')
    expect(formatAmount((2n ** 256n - 1n).toString(), ETH)).toBe('115792089237316195423570985008687907853269984665640564039457.584007913129639935 ETH')
    expect(formatAmount('not a number', TUSD)).toBe('— TUSD')
  })

  it('parses typed amounts to base units, refusing what the token cannot hold', () => {
    expect(parseAmount('12.5', TUSD)).toEqual({ ok: true, value: 12_500_000n })
    expect(parseAmount('12,5', TUSD)).toEqual({ ok: true, value: 12_500_000n })
    expect(parseAmount('.01', ETH)).toEqual({ ok: true, value: 10_000_000_000_000_000n })
    expect(parseAmount('', TUSD)).toEqual({ ok: false, error: 'Enter an amount.' })
    expect(parseAmount('1e3', TUSD)).toEqual({ ok: false, error: 'The amount must be a number.' })
    expect(parseAmount('-1', TUSD)).toEqual({ ok: false, error: 'The amount must be a number.' })
    expect(parseAmount('0.0000001', TUSD)).toEqual({ ok: false, error: 'TUSD has at most 6 decimals.' })
    expect(parseAmount('0', TUSD)).toEqual({ ok: false, error: 'The amount must be more than 0.' })
    expect(parseAmount('120.000001', TUSD, 120_000_000n)).toEqual({ ok: false, error: 'At most 120 TUSD is left to pay.' })
    expect(parseAmount('120', TUSD, 120_000_000n)).toEqual({ ok: true, value: 120_000_000n })
  })

  it('prefills from an invoice total', () => {
    expect(amountText(530, 6)).toBe('530')
    expect(amountText(120.8, 6)).toBe('120.8')
    expect(amountText(null, 6)).toBe('')
    expect(amountText(0, 6)).toBe('')
    expect(amountText(1.25, 0)).toBe('1')
  })

  it('tells ETH from tokens by the zero address', () => {
    expect(isEth(ETH)).toBe(true)
    expect(isEth(TUSD)).toBe(false)
  })
})

describe('transaction hashes', () => {
  const hash = 'ab'.repeat(32)
  it('takes a pasted hash in any case, with or without 0x and spaces', () => {
    expect(parseTxHash(`  0x${hash.toUpperCase()} `)).toEqual({ ok: true, value: `0x${hash}` })
    expect(parseTxHash(hash)).toEqual({ ok: true, value: `0x${hash}` })
  })
  it('says why a hash is refused', () => {
    expect(parseTxHash('')).toEqual({ ok: false, error: 'Paste the transaction hash.' })
    for (const bad of [`0x${hash.slice(2)}`, `0x${hash}00`, `0x${'g'.repeat(64)}`, '0x41f2…9c0e']) {
      expect(parseTxHash(bad)).toEqual({ ok: false, error: 'A transaction hash is 0x followed by 64 hex digits.' })
    }
  })
})

describe('bill status', () => {
  it('says open, partly paid, overdue, paid, refunded, cancelled', () => {
    expect(billStatus(bill())).toEqual({ label: 'Open', kind: 'warn' })
    expect(billStatus(bill({ paid: '20000000' }))).toEqual({ label: 'Partly paid', kind: 'warn' })
    expect(billStatus(bill({ overdue: true }))).toEqual({ label: 'Overdue', kind: 'bad' })
    expect(billStatus(bill({ overdue: true, paid: '1' })).label).toBe('Overdue, partly paid')
    expect(billStatus(bill({ status: 'paid', paid: '120000000', overdue: true }))).toEqual({ label: 'Paid', kind: 'ok' })
    expect(billStatus(bill({ status: 'paid', paid: '120000000', refunded: '20000000' })).label).toBe('Paid, partly refunded')
    expect(billStatus(bill({ status: 'paid', paid: '120000000', refunded: '120000000' })).label).toBe('Refunded')
    expect(billStatus(bill({ status: 'cancelled' }))).toEqual({ label: 'Cancelled', kind: 'neutral' })
  })

  it('lists open bills first, soonest due first, then the rest newest first', () => {
    const list = [
      bill({ billId: 'paid-old', status: 'paid', issuedBlock: 1 }),
      bill({ billId: 'open-late', dueDate: 300 }),
      bill({ billId: 'cancelled-new', status: 'cancelled', issuedBlock: 9 }),
      bill({ billId: 'open-soon', dueDate: 100 }),
    ]
    expect(sortBills(list).map((b) => b.billId)).toEqual(['open-soon', 'open-late', 'cancelled-new', 'paid-old'])
  })

  it('finds the newest bill of each record', () => {
    const byRecord = billsByRecord([bill({ billId: 'new', issuedBlock: 20 }), bill({ billId: 'old', issuedBlock: 5 }), bill({ billId: 'other', recordId: 8 })])
    expect(byRecord.get(7)?.billId).toBe('new')
    expect(byRecord.get(8)?.billId).toBe('other')
  })
})

describe('due dates', () => {
  it('defaults to 30 days ahead and is the end of the chosen day (UTC)', () => {
    expect(defaultDueDate(new Date('2026-11-30T09:00:00Z'))).toBe('2026-12-30')
    expect(dueDateSeconds('2026-12-30')).toBe(Date.parse('2026-12-30T23:59:59Z') / 1000)
    expect(dueDateSeconds('30/12/2026')).toBeNull()
    expect(dueDateText(dueDateSeconds('2026-12-30')!)).toBe('2026-12-30')
  })
})

describe('receipt', () => {
  const TX = '0x' + 'b'.repeat(64)
  it('reads a PaymentReconciliation', () => {
    const view = receiptView({
      resourceType: 'PaymentReconciliation',
      status: 'active',
      created: '2026-11-30T10:00:00Z',
      paymentDate: '2026-11-30',
      paymentAmount: { value: 120.5, currency: 'TUSD' },
      paymentIdentifier: { system: 'urn:ethereum:tx', value: TX },
      request: { identifier: { system: 'urn:healthledger:record', value: 'record-7' } },
      detail: [{ type: { text: 'payment' }, date: '2026-11-30', amount: { value: 120.5, currency: 'TUSD' }, identifier: { value: TX } }],
    })
    expect(view).toEqual({
      valid: true,
      status: 'active',
      created: '2026-11-30T10:00:00Z',
      paymentDate: '2026-11-30',
      amount: '120.5 TUSD',
      txHash: TX,
      invoice: 'record-7',
      lines: [{ date: '2026-11-30', amount: '120.5 TUSD', txHash: TX }],
    })
  })

  it('never throws on odd shapes', () => {
    expect(receiptView(null)).toMatchObject({ valid: false, amount: null, lines: [] })
    expect(receiptView({ resourceType: 'PaymentReconciliation', detail: [{ request: { reference: 'Invoice/1' } }], paymentAmount: 'x' })).toMatchObject({ valid: true, invoice: 'Invoice/1', amount: null })
  })
})
