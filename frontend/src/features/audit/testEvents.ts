/** Audit entries for the unit tests, shaped as GET /api/audit/patient sends them. */
import type { AuditEvent } from '../../api/types'

export const PATIENT = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
export const DOCTOR = '0x90F79bf6EB2c4f870365E785982E1f101E93b906'
export const EXPIRES = 1_796_515_200 // 2026-12-06T00:00:00Z
export const NOW = new Date('2026-11-30T12:00:00Z')

type Chain = Extract<AuditEvent, { source: 'chain' }>
type View = Extract<AuditEvent, { source: 'database' }>

/** A chain entry as GET /api/audit/patient sends it, with only what a test changes given. */
export function chain(action: string, fields: Partial<Chain> = {}): AuditEvent {
  return {
    id: `0xabc:${action}`,
    source: 'chain',
    event: action,
    action,
    patient: PATIENT,
    doctor: DOCTOR,
    record_ids: null,
    cids: null,
    record_names: [],
    timestamp: '2026-11-29T12:00:00+00:00',
    timestamp_unix: 1_795_953_600,
    block_number: 7,
    block_hash: '0xblock',
    tx_hash: '0xtx',
    log_index: 0,
    contract: '0xvault',
    details: {},
    ...fields,
  }
}

export function view(fields: Partial<View> = {}): AuditEvent {
  return {
    id: 'view:1',
    source: 'database',
    event: 'RecordViewed',
    action: 'record_viewed',
    patient: PATIENT,
    doctor: DOCTOR,
    reader: DOCTOR,
    reader_role: 'doctor',
    reader_name: 'Maria Lopez',
    record_ids: [0],
    cids: ['cid'],
    record_names: [{ record_id: 0, name: 'Amoxicillin prescription' }],
    verified: true,
    timestamp: '2026-11-29T12:00:00+00:00',
    timestamp_unix: 1_795_953_600,
    ...fields,
  }
}

