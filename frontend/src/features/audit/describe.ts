/**
 * One audit entry in plain words ("Record #3 (prescription) added by Dr. Ada", "Write access of
 * 0x90F7…b906 revoked"). Pure, so the unit tests read every sentence; the table shows the chain's
 * event name next to it for anyone checking against a block explorer.
 */
import { RECORD_TYPES, type AuditEvent, type RecordType } from '../../api/types'
import { formatDate, recordTypeLabel, shortAddress } from '../../lib/format'

const DAY = 86_400

type Details = Record<string, unknown>

function detailsOf(event: AuditEvent): Details {
  return event.source === 'chain' ? (event.details as Details) : {}
}

const text = (value: unknown): string | null => (typeof value === 'string' && value.trim() ? value.trim() : null)
const integer = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : null)

/** A person in a sentence: their name when the entry carries one, else their short address. */
function person(address: string | null | undefined, name?: unknown): string {
  return text(name) ?? (address ? shortAddress(address) : 'someone')
}

/** "record #3", "records #0, #2", or "records" when the entry lists none. */
function recordsPhrase(ids: readonly number[] | null | undefined): string {
  if (!ids?.length) return 'records'
  return `${ids.length === 1 ? 'record' : 'records'} ${ids.map((id) => `#${id}`).join(', ')}`
}

function capitalised(phrase: string): string {
  return phrase ? phrase[0].toUpperCase() + phrase.slice(1) : phrase
}

/** " until <date>" when the entry has an expiry (Unix seconds). */
function until(details: Details): string {
  const at = integer(details.expires_at)
  return at === null ? '' : ` until ${formatDate(at)}`
}

function days(seconds: number): string {
  const value = seconds / DAY
  return `${Number.isInteger(value) ? value : value.toFixed(1)} day(s)`
}

/** "Record #3 (prescription) added" and who added it when a doctor did. */
function recordAdded(event: AuditEvent, details: Details): string {
  const type = text(details.record_type)
  const label = type && (RECORD_TYPES as readonly string[]).includes(type) ? recordTypeLabel(type as RecordType).toLowerCase() : type
  const added = `${capitalised(recordsPhrase(event.record_ids))}${label ? ` (${label})` : ''} added`
  if (details.author_role !== 'doctor') return added
  return `${added} by ${person(text(details.author) ?? event.doctor, details.author_name)}`
}

/** The sentence for one audit entry; an action this app does not know reads as its event name. */
export function describeAuditEvent(event: AuditEvent): string {
  const details = detailsOf(event)
  // The service names the doctor where it knows them (an author, a canceller; any entry later on).
  const doctor = person(event.doctor, details.doctor_name ?? details.author_name ?? details.account_name)
  const records = recordsPhrase(event.record_ids)
  switch (event.action) {
    case 'record_added':
      return recordAdded(event, details)
    case 'access_requested':
      return `${doctor} asked for access${text(details.reason) ? `: “${text(details.reason)}”` : ''}`
    case 'access_approved':
    case 'records_approved':
      return `Access to ${records} approved for ${doctor}${until(details)}`
    case 'access_denied':
      return `Access request of ${doctor} denied`
    case 'access_revoked':
      return `All access of ${doctor} revoked`
    case 'records_revoked':
      return `Access to ${records} revoked for ${doctor}`
    case 'extension_requested': {
      const extra = integer(details.extra_seconds)
      return `${doctor} asked for ${extra === null ? 'more time' : `${days(extra)} more`}`
    }
    case 'extension_approved':
      return `Access of ${doctor} extended${until(details)}`
    case 'write_approved':
      return `${doctor} was allowed to add records${until(details)}`
    case 'write_revoked':
      return `Write access of ${doctor} revoked`
    case 'nonce_invalidated': {
      const account = text(details.account)
      const byDoctor = account !== null && event.doctor !== null && account.toLowerCase() === event.doctor.toLowerCase()
      return byDoctor ? `Pending signatures of ${doctor} cancelled` : 'Pending signatures cancelled'
    }
    case 'record_viewed': {
      if (event.source !== 'database') return `${capitalised(records)} viewed`
      const reader = event.reader_role === 'patient' ? 'the patient' : person(event.reader)
      return `${capitalised(records)} opened by ${reader}${event.verified ? ' (verified)' : ' (not verified)'}`
    }
    default:
      return `${event.event}${event.record_ids?.length ? ` (${recordsPhrase(event.record_ids)})` : ''}`
  }
}
