/**
 * One audit entry as a sentence with names: "Dr Maria Lopez viewed *Amoxicillin prescription*",
 * "You shared 2 records with Dr Lopez until Dec 6". The patient reads their own actions as "You";
 * the registrar, who sees every patient, reads "The patient" (the table names which one).
 *
 * A sentence is a list of parts so the table can emphasise record names while the CSV export and
 * the unit tests use the same words as plain text. Pure: no React, no clock but `now` for the year.
 */
import { formatUnits } from 'viem'
import { RECORD_TYPES, type AuditEvent, type RecordType } from '../../api/types'
import { recordTypeLabel, shortAddress, toDate } from '../../lib/format'

const DAY = 86_400

/** Whose trail it is: the patient's own ("You") or the registrar's view of every patient. */
export type Viewer = 'patient' | 'registrar'

/** A piece of a sentence; `record` marks a record's name (shown emphasised). */
export type Part = { text: string; record?: true }
export type Sentence = Part[]

type Details = Record<string, unknown>

export function detailsOf(event: AuditEvent): Details {
  return event.source === 'chain' ? (event.details as Details) : {}
}

const text = (value: unknown): string | null => (typeof value === 'string' && value.trim() ? value.trim() : null)
const integer = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : null

/** "Dr Maria Lopez" from a profile name (not titled twice), else the short address. */
export function doctorLabel(address: string | null | undefined, name?: unknown): string {
  const known = text(name)
  if (known) return /^dr\b\.?/i.test(known) ? known : `Dr ${known}`
  return address ? shortAddress(address) : 'someone'
}

/** The doctor an entry concerns, by name where the service knows it. */
export function doctorOf(event: AuditEvent): string {
  const details = detailsOf(event)
  const name = event.source === 'database' ? event.reader_name : (details.doctor_name ?? details.author_name)
  return doctorLabel(event.doctor, name)
}

/** "Dec 6" (with the year when it is not this year's). */
export function shortDay(value: string | number | null | undefined, now: Date = new Date()): string {
  const date = toDate(value)
  if (!date) return ''
  const options: Intl.DateTimeFormatOptions = { month: 'short', day: 'numeric' }
  if (date.getFullYear() !== now.getFullYear()) options.year = 'numeric'
  return date.toLocaleDateString(undefined, options)
}

/** The name of each of the entry's records the API gave (the patient's own trail only). */
export function recordNames(event: AuditEvent): Map<number, string> {
  const names = new Map<number, string>()
  for (const item of event.record_names ?? []) if (text(item.name)) names.set(item.record_id, item.name.trim())
  return names
}

/** One record by name (emphasised), else "record #3". */
function oneRecord(event: AuditEvent, id: number): Part {
  const name = recordNames(event).get(id)
  return name ? { text: name, record: true } : { text: `record #${id}` }
}

/** The entry's records: one by name, several counted ("2 records"), `none` when it lists none. */
function recordsPart(event: AuditEvent, none = 'records'): Part {
  const ids = event.record_ids ?? []
  if (ids.length === 1) return oneRecord(event, ids[0])
  return { text: ids.length ? `${ids.length} records` : none }
}

function typeLabel(details: Details): string | null {
  const type = text(details.record_type)
  if (!type) return null
  return (RECORD_TYPES as readonly string[]).includes(type) ? recordTypeLabel(type as RecordType).toLowerCase() : type
}

/**
 * A bill event's amount in whole tokens ("120 TUSD"): details carry base units; the decimals come
 * from `token_decimals` when the server sends them, else ETH's 18 for the zero address, else the
 * amount is shown in base units.
 */
export function billAmount(details: Details): string {
  const symbol = text(details.token_symbol) ?? ''
  const amount = text(details.amount)
  if (!amount || !/^\d+$/.test(amount)) return symbol ? `some ${symbol}` : 'an amount'
  const decimals = integer(details.token_decimals) ?? (/^0x0{40}$/i.test(text(details.token) ?? '') ? 18 : null)
  if (decimals === null) return `${amount} base units${symbol ? ` of ${symbol}` : ''}`
  return `${formatUnits(BigInt(amount), decimals)}${symbol ? ` ${symbol}` : ''}`
}

/** Whether the patient (rather than a doctor) did what the entry records. */
export function byPatient(event: AuditEvent): boolean {
  const details = detailsOf(event)
  switch (event.action) {
    case 'record_added':
      return details.author_role !== 'doctor'
    case 'access_requested':
    case 'extension_requested':
      return false
    case 'bill_issued':
    case 'bill_refunded':
    case 'bill_cancelled':
      return false
    case 'nonce_invalidated': {
      const account = text(details.account)
      return !(account && event.doctor && account.toLowerCase() === event.doctor.toLowerCase())
    }
    case 'record_viewed':
      return event.source === 'database' ? event.reader_role === 'patient' : false
    default:
      return true
  }
}

/** Who did it, as the "Who" column and the CSV show it. */
export function actorOf(event: AuditEvent, viewer: Viewer = 'patient'): string {
  if (byPatient(event)) return viewer === 'patient' ? 'You' : `Patient ${shortAddress(event.patient)}`
  return doctorOf(event)
}

/** "1 more day", "2 more days", "1.5 more days". */
function daysPhrase(seconds: number): string {
  const value = seconds / DAY
  return `${Number.isInteger(value) ? value : value.toFixed(1)} more day${value === 1 ? '' : 's'}`
}

/** The sentence for one entry; an action this app does not know reads as its event name. */
export function describeAuditEvent(event: AuditEvent, viewer: Viewer = 'patient', now: Date = new Date()): Sentence {
  const details = detailsOf(event)
  const you = viewer === 'patient' ? 'You' : 'The patient'
  const your = viewer === 'patient' ? 'your' : 'their'
  const doctor = doctorOf(event)
  const expiry = integer(details.expires_at)
  const until = expiry === null ? '' : ` until ${shortDay(expiry, now)}`
  const s = (...parts: (string | Part)[]): Sentence =>
    parts.filter((p) => (typeof p === 'string' ? p !== '' : true)).map((p) => (typeof p === 'string' ? { text: p } : p))

  switch (event.action) {
    case 'record_added': {
      const type = typeLabel(details)
      const kind = type ? ` (${type})` : ''
      const who = byPatient(event) ? you : doctorLabel(text(details.author) ?? event.doctor, details.author_name)
      return s(`${who} added `, recordsPart(event, 'a record'), kind)
    }
    case 'access_requested': {
      const reason = text(details.reason)
      const what = event.record_ids?.length ? s(' to ', recordsPart(event)) : []
      return s(`${doctor} asked for access`, ...what, reason ? `: “${reason}”` : '')
    }
    case 'access_approved':
    case 'records_approved':
      return s(`${you} shared `, recordsPart(event), ` with ${doctor}${until}`)
    case 'access_denied':
      return s(`${you} declined the request of ${doctor}`)
    case 'access_revoked':
      return s(`${you} stopped sharing all records with ${doctor}`)
    case 'records_revoked':
      return s(`${you} stopped sharing `, recordsPart(event), ` with ${doctor}`)
    case 'extension_requested': {
      const extra = integer(details.extra_seconds)
      return s(`${doctor} asked for ${extra === null ? 'more time' : daysPhrase(extra)}`)
    }
    case 'extension_approved':
      return s(`${you} extended the access of ${doctor}${until}`)
    case 'write_approved':
      return s(`${you} allowed ${doctor} to add records${until}`)
    case 'write_revoked':
      return s(`${you} took back the permission of ${doctor} to add records`)
    case 'nonce_invalidated':
      return byPatient(event) ? s(`${you} cancelled ${your} pending signatures`) : s(`${doctor} cancelled their pending signatures`)
    case 'record_viewed': {
      if (event.source !== 'database') return s(recordsPart(event), ' viewed')
      const reader = event.reader_role === 'patient' ? you : doctorLabel(event.reader, event.reader_name)
      return s(`${reader} viewed `, recordsPart(event, 'a record'), event.verified ? '' : ' (the integrity check failed)')
    }
    case 'bill_issued':
      return s(`${doctor} asked ${viewer === 'patient' ? 'you' : 'the patient'} to pay ${billAmount(details)} for `, recordsPart(event, 'a bill'))
    case 'bill_paid':
      return s(`${you} paid ${billAmount(details)}${details.partial ? ' (part)' : ''} for `, recordsPart(event, 'a bill'))
    case 'bill_refunded':
      return s(`${doctor} refunded ${billAmount(details)} for `, recordsPart(event, 'a bill'))
    case 'bill_cancelled':
      return s(`${doctor} cancelled the bill for `, recordsPart(event, 'a bill'))
    default:
      return s(event.event, event.record_ids?.length ? ' (' : '', ...(event.record_ids?.length ? [recordsPart(event), ')'] : []))
  }
}

/** A sentence as plain text (the CSV, titles, tests). */
export function sentenceText(sentence: Sentence): string {
  return sentence.map((part) => part.text).join('')
}

/** The entry's sentence as plain text. */
export function describeAuditText(event: AuditEvent, viewer: Viewer = 'patient', now: Date = new Date()): string {
  return sentenceText(describeAuditEvent(event, viewer, now))
}

/** "Amoxicillin prescription.pdf, #2" for the Records column and the CSV. */
export function recordsText(event: AuditEvent): string {
  const names = recordNames(event)
  return (event.record_ids ?? []).map((id) => names.get(id) ?? `#${id}`).join(', ')
}
