// Shapes of the backend's JSON. Fields marked optional are tolerated missing (endpoints still evolving).

export type Role = 'patient' | 'doctor' | 'registrar'
export type RecordType = 'prescription' | 'bill' | 'report'
export const RECORD_TYPES: readonly RecordType[] = ['prescription', 'bill', 'report']

export interface NonceResponse {
  nonce: string
  expires_at: string
  domain: string
  uri: string
  chain_id: number
  statement: string
}

export interface TokenResponse {
  access_token: string
  refresh_token: string
  token_type?: string
  role: Role
  address: string
}

export interface KeyDerivationMessage {
  message: string
  version: number | string
  method: string
}

export type TypedDataAction =
  | 'addRecord'
  | 'requestAccess'
  | 'approveAccess'
  | 'denyAccess'
  | 'revokeAccess'
  | 'revokeRecords'
  | 'requestExtension'
  | 'approveExtension'

export interface TypedDataField {
  name: string
  type: string
}

export interface TypedDataPayload {
  types: Record<string, TypedDataField[]>
  domain: {
    name?: string
    version?: string
    chainId?: number | string
    verifyingContract?: string
    salt?: string
  }
  primaryType: string
  message: Record<string, unknown> & { nonce?: number | string; deadline?: number | string }
}

/**
 * `pending`: sent, not mined yet. `anchored`: mined, fewer than the server's CONFIRMATIONS blocks deep.
 * `confirmed`: deep enough. `unanchored`: the chain lost it (reorganisation, reset chain) and it could
 * not be sent again; `unanchored_reason` says why.
 */
export type RecordState = 'pending' | 'anchored' | 'confirmed' | 'unanchored'

/** Whether a record is on chain with an id (it can be opened, verified and shared). */
export function isOnChain(record: { state: RecordState | string; record_id?: number | null }): boolean {
  return (record.state === 'confirmed' || record.state === 'anchored') && record.record_id !== null && record.record_id !== undefined
}

export interface MedicalRecord {
  cid: string
  name: string
  record_type: RecordType | string
  content_hash: string
  content_type?: string
  state: RecordState
  record_id: number | null
  tx_hash: string | null
  created_at: string
  confirmed_at?: string | null
  anchored_at?: string | null
  block_number?: number | null
  unanchored_reason?: string | null
  reanchored?: number
  size: number
  ciphertext_hash?: string
  ciphertext_size?: number
  record_contract?: string
  patient?: string
}

export interface VerifyResult {
  cid?: string
  database: boolean | null
  blockchain: boolean | null
  ipfs: boolean | null
  plaintext_rehashed?: boolean
  verified: boolean
  problems: string[]
}

export interface ViewedFile {
  blob: Blob
  contentType: string
  filename: string
  integrityVerified: boolean
  blockchainVerified: boolean
  sha256: string | null
}

export interface AccessRequest {
  id?: string
  requestId?: string
  doctor?: string
  doctorAddress?: string
  doctor_address?: string
  doctorName?: string
  doctor_name?: string
  reason?: string
  requestReason?: string
  status?: string
  created_at?: string
  createdAt?: string
  doctor_registered?: boolean
}

/** One of the doctor's own requests, with what became of it. */
export interface DoctorRequest {
  id: string
  patient: string
  reason: string
  state: 'pending' | 'approved' | 'denied' | 'superseded'
  created_at: string
  responded_at?: string | null
  tx_hash?: string
}

export interface AuthorizedRecord {
  cid: string
  name?: string
  record_type?: string
  patient?: string
  patientAddress?: string
  record_id?: number
  expires_at?: string | number
  expiresAt?: string | number
}

export interface AuditEvent {
  id?: string
  patient?: string
  event?: string
  type?: string
  actor?: string
  doctor?: string
  record_ids?: number[]
  tx_hash?: string
  block_number?: number
  timestamp?: string | number
  [key: string]: unknown
}

/** A doctor's live grant on the patient's records, as the chain says (the patient's Sharing view). */
export interface PatientGrant {
  doctor: string
  doctor_name?: string | null
  doctor_registered?: boolean
  expires_at: number
  pending_extension_seconds: number
  records: { record_id: number; cid?: string | null; name?: string | null; record_type?: string | null }[]
}

/** One page of the registrar's audit trail (every patient), newest first. */
export interface AuditPage {
  events: AuditEvent[]
  page: number
  pages: number
  total: number
  patients?: number
}

export interface PersonSummary {
  address: string
  name?: string
  [key: string]: unknown
}

export interface DependencyStatus {
  state: 'ok' | 'down' | string
  latency_ms?: number
  [key: string]: unknown
}

export interface SystemStatus {
  status: 'ok' | 'degraded' | string
  dependencies: Record<string, DependencyStatus>
}

/** Client configuration the backend may publish (GET /api/config); every field optional. */
export interface ClientConfig {
  chain_id?: number
  rpc_url?: string
  chain_name?: string
  block_explorer_url?: string
}
