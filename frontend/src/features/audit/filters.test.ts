import { describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../api/types'
import { NO_FILTERS, filterAuditEvents, filterOptions, kindOf } from './filters'
import { DOCTOR, PATIENT, chain, view } from './testEvents'

const OTHER = '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65'
const at = (iso: string) => ({ timestamp: iso, timestamp_unix: Math.floor(Date.parse(iso) / 1000) })
const local = (y: number, m: number, d: number, h = 12) => new Date(y, m - 1, d, h).toISOString()

const events: AuditEvent[] = [
  view({ ...at(local(2026, 11, 29)), record_ids: [0], record_names: [{ record_id: 0, name: 'Amoxicillin prescription' }] }),
  chain('records_approved', { ...at(local(2026, 11, 20)), record_ids: [0, 1], details: { doctor_name: 'Maria Lopez' } }),
  chain('access_requested', { ...at(local(2026, 11, 19)), doctor: OTHER, details: { doctor_name: 'Ben Okafor' } }),
  chain('record_added', { ...at(local(2026, 11, 1)), doctor: null, record_ids: [1], record_names: [{ record_id: 1, name: 'Invoice' }], details: { author: PATIENT, author_role: 'patient' } }),
]
const ids = (rows: AuditEvent[]) => rows.map((e) => e.action)

describe('audit filters', () => {
  it('keeps everything without filters', () => {
    expect(filterAuditEvents(events, NO_FILTERS)).toEqual(events)
  })

  it('filters by who: a doctor is every entry that involves them, "You" what the patient did', () => {
    expect(ids(filterAuditEvents(events, { ...NO_FILTERS, who: `doctor:${DOCTOR.toLowerCase()}` }))).toEqual(['record_viewed', 'records_approved'])
    expect(ids(filterAuditEvents(events, { ...NO_FILTERS, who: 'self' }))).toEqual(['records_approved', 'record_added'])
    expect(ids(filterAuditEvents(events, { ...NO_FILTERS, who: `doctor:${OTHER.toLowerCase()}` }))).toEqual(['access_requested'])
  })

  it('filters by record, kind and both', () => {
    const record = `${PATIENT.toLowerCase()}:1`
    expect(ids(filterAuditEvents(events, { ...NO_FILTERS, record }))).toEqual(['records_approved', 'record_added'])
    expect(ids(filterAuditEvents(events, { ...NO_FILTERS, kind: 'sharing' }))).toEqual(['records_approved'])
    expect(ids(filterAuditEvents(events, { ...NO_FILTERS, record, kind: 'records' }))).toEqual(['record_added'])
    expect(filterAuditEvents(events, { ...NO_FILTERS, kind: 'write' })).toEqual([])
  })

  it('filters by date range, both days included, in local time', () => {
    expect(ids(filterAuditEvents(events, { ...NO_FILTERS, from: '2026-11-19', to: '2026-11-20' }))).toEqual(['records_approved', 'access_requested'])
    expect(ids(filterAuditEvents(events, { ...NO_FILTERS, from: '2026-11-21' }))).toEqual(['record_viewed'])
    expect(ids(filterAuditEvents(events, { ...NO_FILTERS, to: '2026-11-01' }))).toEqual(['record_added'])
    // The last minute of the "to" day is in; midnight after it is not.
    const lateEntry = chain('write_revoked', at(new Date(2026, 10, 1, 23, 59).toISOString()))
    const nextDay = chain('write_revoked', at(new Date(2026, 10, 2, 0, 0).toISOString()))
    expect(filterAuditEvents([lateEntry, nextDay], { ...NO_FILTERS, to: '2026-11-01' })).toEqual([lateEntry])
    // An entry without a time cannot be placed in a range.
    expect(filterAuditEvents([chain('write_revoked', { timestamp: null, timestamp_unix: null })], { ...NO_FILTERS, from: '2026-01-01' })).toEqual([])
  })

  it('offers only the people, records and kinds that occur, "You" first, names over addresses', () => {
    const options = filterOptions(events)
    expect(options.who).toEqual([
      { value: 'self', label: 'You' },
      { value: `doctor:${OTHER.toLowerCase()}`, label: 'Dr Ben Okafor' },
      { value: `doctor:${DOCTOR.toLowerCase()}`, label: 'Dr Maria Lopez' },
    ])
    expect(options.records).toEqual([
      { value: `${PATIENT.toLowerCase()}:0`, label: 'Amoxicillin prescription' },
      { value: `${PATIENT.toLowerCase()}:1`, label: 'Invoice' },
    ])
    expect(options.kinds.map((k) => k.value)).toEqual(['records', 'views', 'requests', 'sharing'])
  })

  it('lets the registrar pick a patient, and tells record numbers of different patients apart', () => {
    const theirs = chain('records_revoked', { patient: OTHER, record_ids: [0] })
    const options = filterOptions([...events, theirs], 'registrar')
    expect(options.who.map((o) => o.label)).toContain('Patient 0x15d3…6A65')
    expect(options.records.filter((o) => o.value.endsWith(':0'))).toHaveLength(2)
    expect(filterAuditEvents([...events, theirs], { ...NO_FILTERS, who: `patient:${OTHER.toLowerCase()}` }, 'registrar')).toEqual([theirs])
  })

  it('sorts unknown actions under "other"', () => {
    expect(kindOf(chain('something_new'))).toBe('other')
    expect(kindOf(chain('extension_requested'))).toBe('requests')
  })
})
