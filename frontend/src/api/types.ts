/**
 * The app's names for the API's shapes, taken from the generated OpenAPI types (`schema.gen.ts`).
 *
 * Request bodies and the routes that declare a response model come straight from the document. The
 * responses in the "Awaiting response models" section below are routes whose OpenAPI entry still says
 * only "an object": their shapes are written out here from the backend's code (exact keys, no
 * guessing) until the backend declares them; then each becomes a `Schemas[...]` alias like the others.
 */
import type { components, paths } from './schema.gen'

export type Schemas = components['schemas']
export type { paths }

// ------------------------------------------------------------------ from the OpenAPI document

export type NonceResponse = Schemas['NonceResponse']
export type ClientConfig = Schemas['ClientConfig']
/** The token pair; `role` is narrowed to `Role` by the client (the document says only `string`). */
export type TokenResponse = Schemas['TokenResponse']
export type RespondBody = Schemas['RespondBody']
export type RevokeBody = Schemas['RevokeBody']
export type ApproveExtensionBody = Schemas['ApproveExtensionBody']
export type AccessRequestBody = Schemas['DoctorRequestBody']
export type ExtendBody = Schemas['ExtendBody']
export type DoctorBody = Schemas['DoctorBody']

// ------------------------------------------------------------------ app-side vocabularies

export type Role = 'patient' | 'doctor' | 'registrar'
export type RecordType = 'prescription' | 'bill' | 'report'
export const RECORD_TYPES: readonly RecordType[] = ['prescription', 'bill', 'report']

/** One typed-data request per signed action, as the backend's action table declares it. */
export type TypedDataRequest = NonNullable<paths['/api/signing/typed-data']['post']['requestBody']>['content']['application/json']
/** The signed actions (`SessionContext.signAction` takes these). */
export type TypedDataAction = TypedDataRequest['action']
/** The params the API asks for `action` (names and units from the backend's action table). */
export type TypedDataParams<A extends TypedDataAction> = Extract<TypedDataRequest, { action: A }>['params']

/** A file as the API serves it from /view, with what the server checked before sending it. */
export interface ViewedFile {
  blob: Blob
  contentType: string
  filename: string
  integrityVerified: boolean
  blockchainVerified: boolean
  sha256: string | null
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

// ------------------------------------------------------------------ awaiting response models
// Each names the route(s) it answers; see `pending()` in endpoints.ts.

/** GET /api/signing/key-derivation-message */
export interface KeyDerivationMessage {
  message: string
  version: string
  method: string
}

interface TypedDataField {
  name: string
  type: string
}

/** POST /api/signing/typed-data */
export interface TypedDataPayload {
  types: Record<string, TypedDataField[]>
  domain: { name?: string; version?: string; chainId?: number | string; verifyingContract?: string; salt?: string }
  primaryType: string
  message: Record<string, unknown> & { nonce?: number | string; deadline?: number | string }
}

/** One record: GET /api/medical-records/patient-records (`records[]`), POST /api/medical-records/upload. */
export interface MedicalRecord {
  patient: string
  cid: string
  name: string
  record_type: RecordType | string
  content_type: string
  content_hash: string
  ciphertext_hash: string
  size: number
  ciphertext_size: number
  vault_address: string
  state: RecordState
  record_id: number | null
  tx_hash: string | null
  block_number: number | null
  block_hash: string | null
  unanchored_reason: string | null
  reanchored: number
  created_at: string
  anchored_at: string | null
  confirmed_at: string | null
}

/** GET /api/medical-records/verify/{cid} */
export interface VerifyResult {
  cid: string
  database: boolean | null
  blockchain: boolean | null
  ipfs: boolean | null
  plaintext_rehashed?: boolean
  verified: boolean
  problems: string[]
}

/** A pending request for the patient's records: GET /api/access-requests/patient/requests (`requests[]`). */
export interface AccessRequest {
  id: string
  patient: string
  doctor: string
  doctor_name: string | null
  doctor_registered: boolean
  reason: string
  tx_hash: string
  state: string
  created_at: string
  responded_at: string | null
}

/** One of the doctor's own requests: GET /api/access-requests/doctor/requests (`requests[]`). */
export interface DoctorRequest {
  id: string
  patient: string
  reason: string
  state: 'pending' | 'approved' | 'denied' | 'superseded'
  tx_hash: string
  created_at: string
  responded_at: string | null
}

/** A record of a grant, as the chain lists it (the service's name, kind and hash where it knows the id). */
export interface GrantRecord {
  record_id: number
  cid: string | null
  name: string | null
  record_type: string | null
  content_hash?: string | null
}

/** A live grant to a doctor: GET /api/access-requests/doctor/authorized-records (`grants[]`). */
export interface DoctorGrant {
  patient: string
  expires_at: number
  records: GrantRecord[]
}

/** One row of the doctor's "Authorized records": a shared record with its patient and expiry. */
export interface AuthorizedRecord extends GrantRecord {
  cid: string
  patient: string
  expires_at: number
}

/** A doctor's live grant on the patient's records: GET /api/access-requests/patient/grants (`grants[]`). */
export interface PatientGrant {
  doctor: string
  doctor_name: string | null
  doctor_registered: boolean
  expires_at: number
  pending_extension_seconds: number
  records: GrantRecord[]
}

/** An audit event: GET /api/audit/patient and /api/audit/all (`events[]`). */
export interface AuditEvent {
  id: string
  source: 'chain' | 'database'
  event: string
  action: string
  patient: string
  doctor: string | null
  record_ids: number[] | null
  tx_hash?: string | null
  block_number?: number | null
  timestamp: string
  [key: string]: unknown
}

/** GET /api/audit/patient */
export interface PatientAudit {
  patient: string
  total: number
  events: AuditEvent[]
}

/** One page of every patient's trail (registrars), newest first: GET /api/audit/all. */
export interface AuditPage {
  events: AuditEvent[]
  page: number
  pages: number
  total: number
  patients?: number
}

/** A page of a directory search: GET /api/doctors/search, /api/patients/search. */
export interface SearchPage<T> {
  page: number
  page_size: number
  total: number
  pages: number
  results: T[]
}

export interface DoctorSummary {
  address: string
  name: string
  licence_id: string
  registered: boolean
  updated_at: string
}

export interface PatientSummary {
  address: string
  display_name: string | null
  published: boolean
}

export interface DependencyStatus {
  state: 'ok' | 'down' | string
  latency_ms?: number
  [key: string]: unknown
}

/** GET /api/system/status */
export interface SystemStatus {
  status: 'ok' | 'degraded' | string
  dependencies: Record<string, DependencyStatus>
}
