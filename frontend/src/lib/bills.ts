/**
 * Pure rules of the bills screens (issue 17), unit-tested without React: amounts in a token's base
 * units (viem's formatUnits / parseUnits: uint256-safe, never floats), a bill's status in words,
 * the order bills are listed in, due dates, and a FHIR PaymentReconciliation receipt as a plain view.
 */
import { formatUnits, parseUnits } from 'viem'
import type { Bill, TokenInfo } from '../api/bills'

export const ETH_ADDRESS = '0x0000000000000000000000000000000000000000'

export function isEth(token: Pick<TokenInfo, 'address'>): boolean {
  return /^0x0{40}$/i.test(token.address)
}

/** "12.5 TUSD", "0.01 ETH": base units in whole tokens, trailing zeros dropped. */
export function formatAmount(baseUnits: string | bigint, token: Pick<TokenInfo, 'decimals' | 'symbol'>): string {
  let value: bigint
  try {
    value = typeof baseUnits === 'bigint' ? baseUnits : BigInt(baseUnits)
  } catch {
    return `— ${token.symbol}`
  }
  return `${formatUnits(value, token.decimals)} ${token.symbol}`
}

export type ParsedTxHash = { ok: true; value: string } | { ok: false; error: string }

/**
 * A transaction hash pasted from a wallet or a block explorer ("0x…", 64 hex digits; the "0x" may be
 * missing, case and surrounding spaces do not matter) as the lower-case 0x form, or why not.
 */
export function parseTxHash(text: string): ParsedTxHash {
  const trimmed = text.trim().toLowerCase()
  if (!trimmed) return { ok: false, error: 'Paste the transaction hash.' }
  const hex = trimmed.startsWith('0x') ? trimmed.slice(2) : trimmed
  if (!/^[0-9a-f]{64}$/.test(hex)) return { ok: false, error: 'A transaction hash is 0x followed by 64 hex digits.' }
  return { ok: true, value: `0x${hex}` }
}

export type ParsedAmount = { ok: true; value: bigint } | { ok: false; error: string }

/**
 * An amount typed in whole tokens ("12.50", "12,5") as base units, or why not: not a number, more
 * decimals than the token has, zero, or above `max` (the remaining amount) when given.
 */
export function parseAmount(text: string, token: Pick<TokenInfo, 'decimals' | 'symbol'>, max?: bigint): ParsedAmount {
  const trimmed = text.trim().replace(',', '.')
  if (!trimmed) return { ok: false, error: 'Enter an amount.' }
  if (!/^(\d+\.?\d*|\.\d+)$/.test(trimmed)) return { ok: false, error: 'The amount must be a number.' }
  const decimals = trimmed.includes('.') ? trimmed.length - trimmed.indexOf('.') - 1 : 0
  if (decimals > token.decimals) return { ok: false, error: `${token.symbol} has at most ${token.decimals} decimals.` }
  const value = parseUnits(trimmed, token.decimals)
  if (value <= 0n) return { ok: false, error: 'The amount must be more than 0.' }
  if (max !== undefined && value > max) return { ok: false, error: `At most ${formatAmount(max, token)} is left to pay.` }
  return { ok: true, value }
}

/** An Invoice total (a number in the invoice's currency) as the text of an amount field, to at most `decimals` places. */
export function amountText(value: number | null | undefined, decimals: number): string {
  if (value === null || value === undefined || !Number.isFinite(value) || value <= 0) return ''
  return String(Number(value.toFixed(Math.min(decimals, 2))))
}

export type BadgeKind = 'ok' | 'warn' | 'bad' | 'neutral'
export interface StatusDisplay {
  label: string
  kind: BadgeKind
}

/** A bill's status in words and badge colour: open, partly paid, overdue, paid, refunded, cancelled. */
export function billStatus(bill: Pick<Bill, 'status' | 'overdue' | 'paid' | 'refunded' | 'amount'>): StatusDisplay {
  const paid = BigInt(bill.paid || '0')
  const refunded = BigInt(bill.refunded || '0')
  if (bill.status === 'cancelled') return { label: 'Cancelled', kind: 'neutral' }
  if (bill.status === 'paid') {
    if (refunded > 0n && refunded >= paid) return { label: 'Refunded', kind: 'neutral' }
    if (refunded > 0n) return { label: 'Paid, partly refunded', kind: 'ok' }
    return { label: 'Paid', kind: 'ok' }
  }
  if (bill.overdue) return { label: paid > 0n ? 'Overdue, partly paid' : 'Overdue', kind: 'bad' }
  if (paid > 0n) return { label: 'Partly paid', kind: 'warn' }
  return { label: 'Open', kind: 'warn' }
}

/** Open bills first (the soonest due first), then the others newest first. */
export function sortBills<B extends Pick<Bill, 'status' | 'dueDate' | 'issuedBlock'>>(bills: readonly B[]): B[] {
  return [...bills].sort((a, b) => {
    const openA = a.status === 'open' ? 0 : 1
    const openB = b.status === 'open' ? 0 : 1
    if (openA !== openB) return openA - openB
    if (openA === 0) return a.dueDate - b.dueDate
    return b.issuedBlock - a.issuedBlock
  })
}

/** yyyy-mm-dd `days` after `now` (UTC): the due date a new bill is offered with. */
export function defaultDueDate(now: Date = new Date(), days = 30): string {
  return new Date(now.getTime() + days * 86_400_000).toISOString().slice(0, 10)
}

/** A due date picked as yyyy-mm-dd as Unix seconds (the end of that day, UTC), or null if not a date. */
export function dueDateSeconds(date: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return null
  const ms = Date.parse(`${date}T23:59:59Z`)
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000)
}

/** yyyy-mm-dd of Unix seconds (UTC). */
export function dueDateText(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10)
}

/** The bill of each record id (the record list's payment column); the newest bill wins when a record has several. */
export function billsByRecord(bills: readonly Bill[]): Map<number, Bill> {
  const map = new Map<number, Bill>()
  for (const b of [...bills].sort((x, y) => x.issuedBlock - y.issuedBlock)) map.set(b.recordId, b)
  return map
}

// --- receipt ----------------------------------------------------------------------------------------

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {})
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null)
const amountOf = (v: unknown): string | null => {
  const money = obj(v)
  const value = typeof money.value === 'number' || typeof money.value === 'string' ? String(money.value) : null
  if (value === null) return null
  return str(money.currency) ? `${value} ${String(money.currency)}` : value
}

export interface ReceiptLineView {
  date: string | null
  amount: string | null
  txHash: string | null
}

export interface ReceiptView {
  status: string | null
  created: string | null
  paymentDate: string | null
  /** "12.5 TUSD" */
  amount: string | null
  txHash: string | null
  /** The bill record's Invoice, as its identifier's value (or reference). */
  invoice: string | null
  lines: ReceiptLineView[]
  /** Whether `text` was a PaymentReconciliation at all. */
  valid: boolean
}

function identifierValue(value: unknown): string | null {
  const ref = obj(value)
  return str(obj(ref.identifier).value) ?? str(ref.reference) ?? str(ref.display)
}

/** A PaymentReconciliation receipt (GET /api/bills/{billId}/receipt) as what the receipt view shows. */
export function receiptView(resource: unknown): ReceiptView {
  const r = obj(resource)
  const details = arr(r.detail).map(obj)
  return {
    valid: r.resourceType === 'PaymentReconciliation',
    status: str(r.status),
    created: str(r.created),
    paymentDate: str(r.paymentDate),
    amount: amountOf(r.paymentAmount),
    txHash: str(obj(r.paymentIdentifier).value),
    invoice: identifierValue(r.request) ?? identifierValue(details[0]?.request),
    lines: details.map((d) => ({ date: str(d.date), amount: amountOf(d.amount), txHash: str(obj(d.identifier).value) })),
  }
}
