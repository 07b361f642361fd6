/**
 * The app's names for the API's shapes, every one taken from the generated OpenAPI types
 * (`schema.gen.ts`, made by `make openapi` from the backend's Pydantic models): the backend's
 * response models are the truth, and a screen that reads a field the backend does not send is a
 * compile error. The few app-side types below are derived from the generated ones.
 */
import type { components, paths } from './schema.gen'

export type Schemas = components['schemas']
export type { paths }

// ------------------------------------------------------------------ requests and answers

export type NonceResponse = Schemas['NonceResponse']
export type ClientConfig = Schemas['ClientConfig']
export type TokenResponse = Schemas['TokenResponse']
export type RespondBody = Schemas['RespondBody']
export type RevokeBody = Schemas['RevokeBody']
export type ApproveExtensionBody = Schemas['ApproveExtensionBody']
export type AccessRequestBody = Schemas['DoctorRequestBody']
export type ExtendBody = Schemas['ExtendBody']
export type DoctorBody = Schemas['DoctorBody']

/** GET /api/signing/key-derivation-message */
export type KeyDerivationMessage = Schemas['KeyDerivationMessage']
/** POST /api/signing/typed-data: the EIP-712 payload to sign (its message carries nonce and deadline). */
export type TypedDataPayload = Schemas['TypedDataPayload']
/** One record: GET /api/medical-records/patient-records (`records[]`), POST /api/medical-records/upload. */
export type MedicalRecord = Schemas['RecordOut']
/** GET /api/medical-records/{cid}/history: every version of a structured record, newest first. */
export type RecordHistory = Schemas['RecordHistory']
/** One version in a record's history (its public fields, `anchor` and `state`). */
export type RecordVersion = Schemas['RecordVersion']
/** POST /api/fhir/import/prepare: the records a Bundle becomes and the entries refused. */
export type ImportPlan = Schemas['ImportPlan']
export type ImportRecord = Schemas['ImportRecord']
export type ImportRefusal = Schemas['ImportRefusal']
export type FhirBundle = Schemas['FhirBundle']
/** GET /api/medical-records/verify/{cid} */
export type VerifyResult = Schemas['VerifyResult']
/** A pending request for the patient's records: GET /api/access-requests/patient/requests (`requests[]`). */
export type AccessRequest = Schemas['PendingRequestOut']
/** One of the doctor's own requests: GET /api/access-requests/doctor/requests (`requests[]`). */
export type DoctorRequest = Schemas['AccessRequestOut']
/** A record of a grant, as the chain lists it (the service's name, kind and hash where it knows the id). */
export type GrantRecord = Schemas['SharedRecord']
/** A live grant to a doctor: GET /api/access-requests/doctor/authorized-records (`grants[]`). */
export type DoctorGrant = Schemas['DoctorGrant']
/** A doctor's live grant on the patient's records: GET /api/access-requests/patient/grants (`grants[]`). */
export type PatientGrant = Schemas['PatientGrant']
/** An audit entry, a chain event or a view (told apart by `source`): GET /api/audit/patient and /api/audit/all. */
export type AuditEvent = Schemas['AuditEntry']
/** GET /api/audit/patient */
export type PatientAudit = Schemas['PatientAudit']
/** One page of every patient's trail (registrars), newest first: GET /api/audit/all. */
export type AuditPage = Schemas['AllAudit']
/** How often doctors opened one of the patient's files: GET /api/audit/patient/views. */
export type RecordViews = Schemas['RecordViews']
/** GET /api/doctors/search (`results[]`) */
export type DoctorSummary = Schemas['DoctorOut']
/** GET /api/patients/search (`results[]`) */
export type PatientSummary = Schemas['PatientOut']
/** GET /api/system/status */
export type SystemStatus = Schemas['SystemStatus']
/** One dependency's probe in the status (each kind adds its own details). */
export type DependencyStatus = SystemStatus['dependencies'][keyof SystemStatus['dependencies']]

/** One row of the doctor's "Authorized records": a shared record the service knows, with its patient and expiry. */
export type AuthorizedRecord = GrantRecord & Pick<DoctorGrant, 'patient' | 'expires_at'> & { cid: string }

// ------------------------------------------------------------------ app-side vocabularies (from the document)

export type Role = TokenResponse['role']
export type RecordType = MedicalRecord['record_type']
/** Every record type, in the order the upload form lists them (the map makes the list exhaustive). */
const RECORD_TYPE_SET: { [T in RecordType]: T } = { prescription: 'prescription', bill: 'bill', report: 'report' }
export const RECORD_TYPES: readonly RecordType[] = Object.values(RECORD_TYPE_SET)

// ------------------------------------------------------------------ write grants and cancelled signatures

/** POST /api/access-requests/patient/write-grant (signature over `approveWrite`). */
export type WriteGrantBody = Schemas['WriteGrantBody']
/** POST /api/access-requests/patient/write-revoke (signature over `revokeWrite`). */
export type WriteRevokeBody = Schemas['WriteRevokeBody']
/** A doctor who may add records to the patient's vault now: GET /api/access-requests/patient/write-grants (`grants[]`). */
export type PatientWriteGrant = Schemas['PatientWriteGrant']
/** A vault the doctor may add records to now: GET /api/access-requests/doctor/write-grants (`grants[]`). */
export type DoctorWriteGrant = Schemas['DoctorWriteGrant']
/** POST /api/signing/invalidate-nonce (signature over `invalidateNonce`): every unsent signature of the account dies. */
export type InvalidateNonceBody = Schemas['InvalidateNonceBody']

// ------------------------------------------------------------------ account encryption keys (keys v2)

/** GET /api/keys/message: the exact text to personal_sign; its signature seeds the account's key pair. */
export type AccountKeyMessage = Schemas['AccountKeyMessage']
/** GET /api/keys/{address}: an account's public key and its binding signature (verified by the server). */
export type AccountKey = Schemas['AccountKey']
/** POST /api/keys: the caller's public key and the EIP-712 `EncryptionKey` payload binding it to them. */
export type PreparedKey = Schemas['PreparedKey']
/** The EIP-712 payload of POST /api/keys, signed with eth_signTypedData_v4. */
export type BindingTypedData = Schemas['BindingTypedData']
/** PUT /api/keys */
export type RegisterKeyBody = Schemas['RegisterKeyBody']
/** PUT /api/keys (the registered key) */
export type RegisteredKey = Schemas['RegisteredKey']

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
  /** The salt of the content hash SHA-256(salt ‖ file); null for records from before salts. */
  salt: string | null
}

/**
 * `pending`: sent, not mined yet. `anchored`: mined, fewer than the server's CONFIRMATIONS blocks deep.
 * `confirmed`: deep enough. `unanchored`: the chain lost it (reorganisation, reset chain) and it could
 * not be sent again; `unanchored_reason` says why.
 */
export type RecordState = MedicalRecord['state']

/** Whether a record is on chain with an id (it can be opened, verified and shared). */
export function isOnChain(record: Pick<MedicalRecord, 'state' | 'record_id'>): boolean {
  return (record.state === 'confirmed' || record.state === 'anchored') && record.record_id !== null && record.record_id !== undefined
}

/** A record in its patient's own list: with the duplicate tag their app sent (see lib/uploadHashes.ts). */
export type PatientRecord = Schemas['PatientRecordOut']

/** The signed-in person's own profile (GET/PUT /api/profile); its fields depend on `role`. */
export type Profile = Schemas['Profile']
export type PatientOwnProfile = Schemas['PatientProfile']
export type DoctorOwnProfile = Schemas['DoctorProfile']
export type ProfileBody = Schemas['ProfileBody']
