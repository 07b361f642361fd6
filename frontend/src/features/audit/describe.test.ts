import { describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../api/types'
import { actorOf, describeAuditEvent, describeAuditText, recordsText, shortDay } from './describe'
import { DOCTOR, EXPIRES, NOW, PATIENT, chain, view } from './testEvents'

const UNTIL = shortDay(EXPIRES, NOW)

const named = { doctor_name: 'Dr Maria Lopez' }
const text = (event: AuditEvent, viewer: 'patient' | 'registrar' = 'patient') => describeAuditText(event, viewer, NOW)

describe('audit entries as sentences with names', () => {
  it('reads the example sentences of the issue', () => {
    expect(text(view())).toBe('Dr Maria Lopez viewed Amoxicillin prescription')
    const shared = chain('records_approved', { event: 'RecordsApproved', record_ids: [0, 2], details: { expires_at: EXPIRES, ...named } })
    expect(text(shared)).toBe(`You shared 2 records with Dr Maria Lopez until ${UNTIL}`)
    expect(UNTIL).toMatch(/Dec/)
  })

  it('marks record names as the emphasised parts', () => {
    expect(describeAuditEvent(view(), 'patient', NOW)).toEqual([
      { text: 'Dr Maria Lopez viewed ' },
      { text: 'Amoxicillin prescription', record: true },
    ])
  })

  it('says "You" for the patient and names the doctor for each kind of entry', () => {
    const one = { record_ids: [0], record_names: [{ record_id: 0, name: 'Blood test' }] }
    const cases: [AuditEvent, string][] = [
      [chain('record_added', { ...one, doctor: null, details: { record_type: 'report', author: PATIENT, author_role: 'patient' } }), 'You added Blood test (report)'],
      [chain('record_added', { ...one, details: { record_type: 'prescription', author: DOCTOR, author_role: 'doctor', author_name: 'Ada Byron' } }), 'Dr Ada Byron added Blood test (prescription)'],
      [chain('access_requested', { details: { reason: 'Follow-up', ...named } }), 'Dr Maria Lopez asked for access: “Follow-up”'],
      [chain('access_approved', { ...one, details: { expires_at: EXPIRES, ...named } }), `You shared Blood test with Dr Maria Lopez until ${UNTIL}`],
      [chain('access_denied', { details: named }), 'You declined the request of Dr Maria Lopez'],
      [chain('bill_issued', { ...one, details: { amount: '120500000', token_symbol: 'TUSD', token_decimals: 6, ...named } }), 'Dr Maria Lopez asked you to pay 120.5 TUSD for Blood test'],
      [chain('bill_paid', { ...one, details: { amount: '20000000', token_symbol: 'TUSD', token_decimals: 6, partial: true, ...named } }), 'You paid 20 TUSD (part) for Blood test'],
      [chain('bill_paid', { ...one, details: { amount: '10000000000000000', token: '0x0000000000000000000000000000000000000000', token_symbol: 'ETH', ...named } }), 'You paid 0.01 ETH for Blood test'],
      [chain('bill_refunded', { ...one, details: { amount: '5', token_symbol: 'TUSD', ...named } }), 'Dr Maria Lopez refunded 5 base units of TUSD for Blood test'],
      [chain('bill_cancelled', { ...one, details: { amount: '5', token_symbol: 'TUSD', ...named } }), 'Dr Maria Lopez cancelled the bill for Blood test'],
      [chain('access_revoked', { details: named }), 'You stopped sharing all records with Dr Maria Lopez'],
      [chain('records_revoked', { ...one, details: named }), 'You stopped sharing Blood test with Dr Maria Lopez'],
      [chain('extension_requested', { details: { extra_seconds: 2 * 86_400, ...named } }), 'Dr Maria Lopez asked for 2 more days'],
      [chain('extension_requested', { details: { extra_seconds: 86_400 } }), '0x90F7…b906 asked for 1 more day'],
      [chain('extension_approved', { details: { expires_at: EXPIRES, ...named } }), `You extended the access of Dr Maria Lopez until ${UNTIL}`],
      [chain('write_approved', { details: { expires_at: EXPIRES, ...named } }), `You allowed Dr Maria Lopez to add records until ${UNTIL}`],
      [chain('write_revoked', { details: named }), 'You took back the permission of Dr Maria Lopez to add records'],
      [chain('nonce_invalidated', { doctor: null, details: { account: PATIENT, nonce: 4 } }), 'You cancelled your pending signatures'],
      [chain('nonce_invalidated', { details: { account: DOCTOR, nonce: 1, ...named } }), 'Dr Maria Lopez cancelled their pending signatures'],
      [view({ reader: PATIENT, reader_role: 'patient', reader_name: null, doctor: null }), 'You viewed Amoxicillin prescription'],
    ]
    for (const [event, sentence] of cases) expect(text(event)).toBe(sentence)
  })

  it('tells the registrar "The patient" instead of "You"', () => {
    expect(text(chain('access_denied', { details: named }), 'registrar')).toBe('The patient declined the request of Dr Maria Lopez')
    expect(text(chain('nonce_invalidated', { doctor: null, details: { account: PATIENT } }), 'registrar')).toBe('The patient cancelled their pending signatures')
    expect(actorOf(chain('access_denied'), 'registrar')).toBe('Patient 0x3C44…93BC')
    expect(actorOf(chain('access_denied'), 'patient')).toBe('You')
    expect(actorOf(view(), 'patient')).toBe('Dr Maria Lopez')
  })

  it('falls back to short addresses, record numbers and event names', () => {
    expect(text(chain('records_revoked', { record_ids: [1] }))).toBe('You stopped sharing record #1 with 0x90F7…b906')
    expect(text(view({ reader_name: null, record_names: [], verified: false }))).toBe('0x90F7…b906 viewed record #0 (the integrity check failed)')
    expect(text(chain('record_added', { record_ids: [3], doctor: null, details: { author: PATIENT, author_role: 'patient' } }))).toBe('You added record #3')
    expect(text(chain('extension_requested'))).toBe('0x90F7…b906 asked for more time')
    expect(text(chain('something_new', { event: 'SomethingNew', record_ids: [5] }))).toBe('SomethingNew (record #5)')
    expect(text(chain('write_approved', { doctor: null }))).toBe('You allowed someone to add records')
    // A profile name already titled is not titled twice; a bare one gets "Dr".
    expect(text(chain('access_denied', { details: { doctor_name: 'Dr. Ada' } }))).toBe('You declined the request of Dr. Ada')
  })

  it('lists records by name, else by number, for the Records column', () => {
    expect(recordsText(chain('records_approved', { record_ids: [0, 2], record_names: [{ record_id: 2, name: 'X-ray' }] }))).toBe('#0, X-ray')
  })

  it('adds the year to a date outside this year', () => {
    expect(shortDay('2027-01-05T12:00:00Z', NOW)).toMatch(/2027/)
    expect(shortDay('2026-01-05T12:00:00Z', NOW)).not.toMatch(/2026/)
  })
})
