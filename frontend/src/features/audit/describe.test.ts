import { describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../api/types'
import { formatDate } from '../../lib/format'
import { describeAuditEvent } from './describe'

const PATIENT = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
const DOCTOR = '0x90F79bf6EB2c4f870365E785982E1f101E93b906'
const EXPIRES = 1_900_000_000

/** A chain entry as GET /api/audit/patient sends it, with only what a test changes given. */
function chain(action: string, fields: Partial<Extract<AuditEvent, { source: 'chain' }>> = {}): AuditEvent {
  return {
    id: `0xabc:${action}`,
    source: 'chain',
    event: action,
    action,
    patient: PATIENT,
    doctor: DOCTOR,
    record_ids: null,
    cids: null,
    timestamp: '2026-11-29T12:00:00+00:00',
    timestamp_unix: 1_800_000_000,
    block_number: 7,
    block_hash: '0xblock',
    tx_hash: '0xtx',
    log_index: 0,
    contract: '0xvault',
    details: {},
    ...fields,
  }
}

describe('audit entries in plain words', () => {
  it('names the approved records and the expiry of a bitmap approval', () => {
    const event = chain('records_approved', { event: 'RecordsApproved', record_ids: [0, 2], details: { expires_at: EXPIRES } })
    expect(describeAuditEvent(event)).toBe(`Access to records #0, #2 approved for 0x90F7…b906 until ${formatDate(EXPIRES)}`)
  })

  it('says who may add records, and until when, for a write grant; and that it was revoked', () => {
    expect(describeAuditEvent(chain('write_approved', { details: { expires_at: EXPIRES, doctor_name: 'Dr. Ada' } }))).toBe(
      `Dr. Ada was allowed to add records until ${formatDate(EXPIRES)}`,
    )
    expect(describeAuditEvent(chain('write_revoked'))).toBe('Write access of 0x90F7…b906 revoked')
  })

  it('names the doctor who wrote a record, by name when the service knows it, else by short address', () => {
    const written = (details: Record<string, unknown>) => chain('record_added', { record_ids: [3], details: { record_type: 'prescription', ...details } })
    expect(describeAuditEvent(written({ author: DOCTOR, author_role: 'doctor', author_name: 'Dr. Ada' }))).toBe('Record #3 (prescription) added by Dr. Ada')
    expect(describeAuditEvent(written({ author: DOCTOR, author_role: 'doctor' }))).toBe('Record #3 (prescription) added by 0x90F7…b906')
    // The patient's own record names nobody (the trail is theirs).
    expect(describeAuditEvent({ ...written({ author: PATIENT, author_role: 'patient' }), doctor: null })).toBe('Record #3 (prescription) added')
  })

  it("tells the patient's cancelled signatures from a doctor's", () => {
    expect(describeAuditEvent(chain('nonce_invalidated', { doctor: null, details: { account: PATIENT, nonce: 4 } }))).toBe('Pending signatures cancelled')
    expect(describeAuditEvent(chain('nonce_invalidated', { details: { account: DOCTOR, nonce: 1 } }))).toBe('Pending signatures of 0x90F7…b906 cancelled')
    expect(describeAuditEvent(chain('nonce_invalidated', { details: { account: DOCTOR, nonce: 1, author_name: 'Dr. Ada' } }))).toBe('Pending signatures of Dr. Ada cancelled')
  })

  it('reads the older actions too, and an unknown one as its event name with its records', () => {
    expect(describeAuditEvent(chain('access_revoked'))).toBe('All access of 0x90F7…b906 revoked')
    expect(describeAuditEvent(chain('records_revoked', { record_ids: [1] }))).toBe('Access to record #1 revoked for 0x90F7…b906')
    expect(describeAuditEvent(chain('extension_requested', { details: { extra_seconds: 2 * 86_400 } }))).toBe('0x90F7…b906 asked for 2 day(s) more')
    expect(describeAuditEvent(chain('access_requested', { details: { reason: 'Follow-up' } }))).toBe('0x90F7…b906 asked for access: “Follow-up”')
    expect(describeAuditEvent(chain('something_new', { event: 'SomethingNew', record_ids: [5] }))).toBe('SomethingNew (record #5)')
  })

  it('says who opened a record and whether the checks passed', () => {
    const view: AuditEvent = {
      id: 'view:1',
      source: 'database',
      event: 'RecordViewed',
      action: 'record_viewed',
      patient: PATIENT,
      doctor: DOCTOR,
      reader: DOCTOR,
      reader_role: 'doctor',
      record_ids: [0],
      cids: ['cid'],
      verified: true,
      timestamp: '2026-11-29T12:00:00+00:00',
      timestamp_unix: 1_800_000_000,
    }
    expect(describeAuditEvent(view)).toBe('Record #0 opened by 0x90F7…b906 (verified)')
  })
})
