import type { RecordType } from '../api/types'

export function shortAddress(address: string | null | undefined): string {
  if (!address) return ''
  return address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address
}

export function shortHash(hash: string | null | undefined, keep = 10): string {
  if (!hash) return ''
  return hash.length > keep * 2 ? `${hash.slice(0, keep)}…${hash.slice(-6)}` : hash
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return ''
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

/** A time from an ISO string or Unix seconds/milliseconds. */
export function toDate(value: string | number | null | undefined): Date | null {
  if (value === null || value === undefined || value === '') return null
  if (typeof value === 'number') return new Date(value < 1e12 ? value * 1000 : value)
  if (/^\d+$/.test(value)) return toDate(Number(value))
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? null : date
}

export function formatDate(value: string | number | null | undefined): string {
  const date = toDate(value)
  return date ? date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : ''
}

/** "2 d 3 h", "4 h 05 min", "3 min 07 s", or "expired". */
export function formatRemaining(ms: number): string {
  if (ms <= 0) return 'expired'
  const s = Math.floor(ms / 1000)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  if (d > 0) return `${d} d ${h} h`
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`
  return `${m} min ${String(sec).padStart(2, '0')} s`
}

export const RECORD_TYPE_LABELS: Record<RecordType, string> = {
  prescription: 'Prescription',
  bill: 'Bill',
  report: 'Report',
}

/** A record type's label; empty for a record the service does not know (its type is null). */
export function recordTypeLabel(type: RecordType | null): string {
  return type ? RECORD_TYPE_LABELS[type] : ''
}

/** "0, 3 4" -> [0, 3, 4]; null when any part is not a non-negative integer. */
export function parseIds(text: string): number[] | null {
  const parts = text.split(/[\s,]+/).filter(Boolean)
  const ids = parts.map(Number)
  return ids.every((n) => Number.isInteger(n) && n >= 0) ? ids : null
}

/**
 * "added by Dr Ada Lovelace" for a record a doctor wrote (its `author`), from the doctor's profile
 * name, else their short address; null for a record the patient added. A name that already starts
 * with "Dr" is not titled twice.
 */
export function addedBy(record: { author?: string | null; author_name?: string | null }): string | null {
  if (!record.author) return null
  const name = record.author_name?.trim()
  if (!name) return `added by doctor ${shortAddress(record.author)}`
  return `added by ${/^dr\b\.?/i.test(name) ? name : `Dr ${name}`}`
}
