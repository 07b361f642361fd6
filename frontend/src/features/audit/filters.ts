/**
 * Narrowing an audit trail by who, which record, what kind and when. Pure functions over the rows
 * the table already holds (the patient's whole trail, or the registrar's page), so the CSV export
 * takes exactly the rows on screen.
 */
import type { AuditEvent } from '../../api/types'
import { shortAddress, toDate } from '../../lib/format'
import { byPatient, doctorOf, recordNames, type Viewer } from './describe'

/** The kinds a person filters by: several contract events each. */
export const AUDIT_KINDS = {
  records: 'Records added',
  views: 'Views',
  requests: 'Requests',
  sharing: 'Sharing',
  write: 'Permission to add records',
  signatures: 'Cancelled signatures',
  bills: 'Bills and payments',
  other: 'Other',
} as const
export type AuditKind = keyof typeof AUDIT_KINDS

const KIND_OF_ACTION: Record<string, AuditKind> = {
  record_added: 'records',
  record_viewed: 'views',
  access_requested: 'requests',
  extension_requested: 'requests',
  access_denied: 'requests',
  access_approved: 'sharing',
  records_approved: 'sharing',
  extension_approved: 'sharing',
  access_revoked: 'sharing',
  records_revoked: 'sharing',
  write_approved: 'write',
  write_revoked: 'write',
  nonce_invalidated: 'signatures',
  bill_issued: 'bills',
  bill_paid: 'bills',
  bill_refunded: 'bills',
  bill_cancelled: 'bills',
}

export function kindOf(event: AuditEvent): AuditKind {
  return KIND_OF_ACTION[event.action] ?? 'other'
}

/** Empty strings mean "any". `from`/`to` are calendar days (YYYY-MM-DD, the date input's value) in local time, both inclusive. */
export interface AuditFilters {
  who: string
  record: string
  kind: AuditKind | ''
  from: string
  to: string
}

export const NO_FILTERS: AuditFilters = { who: '', record: '', kind: '', from: '', to: '' }

export interface Option {
  value: string
  label: string
}

const PATIENT_SELF = 'self'

/** The people an entry involves, as filter keys: the doctor (address) and the patient when they acted. */
export function peopleOf(event: AuditEvent, viewer: Viewer): string[] {
  const people: string[] = []
  if (viewer === 'registrar') people.push(`patient:${event.patient.toLowerCase()}`)
  else if (byPatient(event)) people.push(PATIENT_SELF)
  if (event.doctor) people.push(`doctor:${event.doctor.toLowerCase()}`)
  return people
}

/** Record keys: a record id is only unique within its patient's vault. */
export function recordKeysOf(event: AuditEvent): string[] {
  return (event.record_ids ?? []).map((id) => `${event.patient.toLowerCase()}:${id}`)
}

/** Local midnight of a YYYY-MM-DD day, or null. */
function dayStart(day: string): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day)
  if (!match) return null
  const date = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]))
  return Number.isNaN(date.getTime()) ? null : date
}

export function filterAuditEvents(events: readonly AuditEvent[], filters: AuditFilters, viewer: Viewer = 'patient'): AuditEvent[] {
  const start = dayStart(filters.from)
  const endDay = dayStart(filters.to)
  const end = endDay && new Date(endDay.getFullYear(), endDay.getMonth(), endDay.getDate() + 1)
  return events.filter((event) => {
    if (filters.who && !peopleOf(event, viewer).includes(filters.who)) return false
    if (filters.record && !recordKeysOf(event).includes(filters.record)) return false
    if (filters.kind && kindOf(event) !== filters.kind) return false
    if (start || end) {
      const at = toDate(event.timestamp_unix ?? event.timestamp)
      if (!at) return false
      if (start && at < start) return false
      if (end && at >= end) return false
    }
    return true
  })
}

const byLabel = (a: Option, b: Option) => a.label.localeCompare(b.label)

/** The choices the rows offer (only people and records that occur), "You" first. */
export function filterOptions(events: readonly AuditEvent[], viewer: Viewer = 'patient'): { who: Option[]; records: Option[]; kinds: Option[] } {
  const people = new Map<string, string>()
  const records = new Map<string, string>()
  const kinds = new Set<AuditKind>()
  for (const event of events) {
    kinds.add(kindOf(event))
    for (const key of peopleOf(event, viewer)) {
      const known = people.get(key)
      if (key === PATIENT_SELF) people.set(key, 'You')
      else if (key.startsWith('patient:')) people.set(key, `Patient ${shortAddress(event.patient)}`)
      // A later entry may carry the name an earlier one lacked.
      else if (!known || known.startsWith('0x')) people.set(key, doctorOf(event))
    }
    const names = recordNames(event)
    for (const id of event.record_ids ?? []) {
      const key = `${event.patient.toLowerCase()}:${id}`
      const label = names.get(id) ?? `Record #${id}${viewer === 'registrar' ? ` (${shortAddress(event.patient)})` : ''}`
      if (!records.has(key) || names.has(id)) records.set(key, label)
    }
  }
  const who = [...people].map(([value, label]) => ({ value, label }))
  const self = who.filter((o) => o.value === PATIENT_SELF)
  return {
    who: [...self, ...who.filter((o) => o.value !== PATIENT_SELF).sort(byLabel)],
    records: [...records].map(([value, label]) => ({ value, label })).sort(byLabel),
    kinds: (Object.keys(AUDIT_KINDS) as AuditKind[]).filter((k) => kinds.has(k)).map((k) => ({ value: k, label: AUDIT_KINDS[k] })),
  }
}

export function isFiltered(filters: AuditFilters): boolean {
  return Object.values(filters).some(Boolean)
}
