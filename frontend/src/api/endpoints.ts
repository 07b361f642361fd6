/**
 * Every backend call the app makes, typed by the generated OpenAPI paths (`schema.gen.ts`): a wrong
 * path, method, parameter or request field is a compile error. Each wrapper returns the part of the
 * answer the screens use, read from the key the backend documents (no guessing between shapes).
 */
import { ApiError, parseErrorBody } from './errors'
import { unwrap, type ApiClient, type UploadProgress, type UploadResult } from './client'
import type {
  AccessRequest,
  AccountKey,
  AccessRequestBody,
  ApproveExtensionBody,
  AuditEvent,
  RecordViews,
  AuthorizedRecord,
  ClientConfig,
  DoctorBody,
  DoctorRequest,
  DoctorSummary,
  DoctorWriteGrant,
  ExtendBody,
  FhirBundle,
  ImportPlan,
  InvalidateNonceBody,
  MedicalRecord,
  PatientGrant,
  PatientRecord,
  PatientSummary,
  PatientWriteGrant,
  ProfileBody,
  RecordHistory,
  RecordType,
  RegisterKeyBody,
  RespondBody,
  RevokeBody,
  TypedDataAction,
  TypedDataParams,
  TypedDataRequest,
  ViewedFile,
  WriteGrantBody,
  WriteRevokeBody,
} from './types'

function filenameFrom(disposition: string | null, fallback: string): string {
  if (!disposition) return fallback
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition)
  if (star) {
    try {
      return decodeURIComponent(star[1])
    } catch {
      /* fall through */
    }
  }
  const plain = /filename="?([^";]+)"?/i.exec(disposition)
  return plain ? plain[1] : fallback
}

/**
 * A file download (`parseAs: 'blob'`): the bytes and the headers that describe them (name, type,
 * integrity checks). One place turns an error answer, or an empty body, into an ApiError.
 */
async function blobOf(request: Promise<{ data?: Blob; error?: unknown; response: Response }>): Promise<{ blob: Blob; headers: Headers }> {
  const { data, error, response } = await request
  if (!response.ok || !data) throw parseErrorBody(response.status, error ?? null)
  return { blob: data, headers: response.headers }
}

export interface UploadFields {
  file: Blob
  fileName: string
  recordType: RecordType
  name: string
  walletSignature: string
  recordSignature: string
  nonce: number
  deadline: number
  /** `0x` + 64 hex: the fresh salt the signed contentHash SHA-256(salt ‖ file) was computed with. */
  salt: string
  /** Optional `0x` + 64 hex: HMAC of the file under the key-signature-derived key (lib/uploadHashes.ts). */
  duplicateTag?: string | null
  /** Optional: an amendment, the CID of the version it replaces (README "FHIR records: Amendments"). */
  replaces?: string | null
}

/**
 * A doctor's upload for a patient who granted them write access: no key signature (the server seals
 * the data key to the patient's and the doctor's registered public keys); the record signature is
 * the doctor's `addRecordAsDoctor`.
 */
export interface DoctorUploadFields extends Omit<UploadFields, 'walletSignature'> {
  patientAddress: string
}

export function createApi(client: ApiClient) {
  const { http, publicHttp } = client
  const walletHeader = (signature?: string) => (signature ? { 'x-wallet-signature': signature } : {})

  return {
    client,
    auth: {
      nonce: () => unwrap(publicHttp.GET('/api/auth/nonce')),
      login: (message: string, signature: string) => unwrap(publicHttp.POST('/api/auth/login', { body: { message, signature } })),
    },
    signing: {
      keyDerivationMessage: () => unwrap(publicHttp.GET('/api/signing/key-derivation-message')),
      /** The one typed-data call: every signed action's payload comes from here. */
      typedData: <A extends TypedDataAction>(action: A, params: TypedDataParams<A>) =>
        // TypeScript cannot tie a generic `A` to one member of the union: the pair is checked by the signature above.
        unwrap(http.POST('/api/signing/typed-data', { body: { action, params } as TypedDataRequest })),
      /** Relay a signed `invalidateNonce`: every signature the account made but did not send becomes unusable. */
      invalidateNonce: (body: InvalidateNonceBody) => unwrap(http.POST('/api/signing/invalidate-nonce', { body })),
    },
    keys: {
      /** The text whose personal_sign seeds the account's encryption key pair. */
      message: () => unwrap(publicHttp.GET('/api/keys/message')),
      /** An account's verified public key, or null when it has none yet (404 `key_not_found`). */
      async get(address: string): Promise<AccountKey | null> {
        try {
          return await unwrap(http.GET('/api/keys/{address}', { params: { path: { address } } }))
        } catch (error) {
          if (error instanceof ApiError && error.status === 404 && error.code === 'key_not_found') return null
          throw error
        }
      },
      /** The caller's public key and its EIP-712 binding, from their signature of the key message (nothing stored). */
      prepare: (walletSignature: string) => unwrap(http.POST('/api/keys', { body: { walletSignature } })),
      /** Register the public key with its binding signature. */
      register: (body: RegisterKeyBody) => unwrap(http.PUT('/api/keys', { body })),
    },
    records: {
      upload(fields: UploadFields, onProgress?: (p: UploadProgress) => void, signal?: AbortSignal): Promise<UploadResult<MedicalRecord>> {
        // The file goes last: the server encrypts and stores it while it arrives, once it has every other field.
        const form = new FormData()
        form.append('recordType', fields.recordType)
        form.append('name', fields.name)
        form.append('walletSignature', fields.walletSignature)
        form.append('recordSignature', fields.recordSignature)
        form.append('nonce', String(fields.nonce))
        form.append('deadline', String(fields.deadline))
        form.append('salt', fields.salt)
        if (fields.duplicateTag) form.append('duplicateTag', fields.duplicateTag)
        if (fields.replaces) form.append('replaces', fields.replaces)
        form.append('file', fields.file, fields.fileName)
        return client.upload<MedicalRecord>('/api/medical-records/upload', form, onProgress, signal)
      },
      /** POST /api/medical-records/doctor/upload (doctors with a live write grant from `patientAddress`). */
      doctorUpload(fields: DoctorUploadFields, onProgress?: (p: UploadProgress) => void, signal?: AbortSignal): Promise<UploadResult<MedicalRecord>> {
        const form = new FormData()
        form.append('patientAddress', fields.patientAddress)
        form.append('recordType', fields.recordType)
        form.append('name', fields.name)
        form.append('recordSignature', fields.recordSignature)
        form.append('nonce', String(fields.nonce))
        form.append('deadline', String(fields.deadline))
        form.append('salt', fields.salt)
        if (fields.replaces) form.append('replaces', fields.replaces)
        form.append('file', fields.file, fields.fileName)
        return client.upload<MedicalRecord>('/api/medical-records/doctor/upload', form, onProgress, signal)
      },
      /** The records the signed-in doctor added to patients' vaults, newest first (each names its patient). */
      async authored(): Promise<MedicalRecord[]> {
        return (await unwrap(http.GET('/api/medical-records/doctor/authored'))).records
      },
      async patientRecords(): Promise<PatientRecord[]> {
        return (await unwrap(http.GET('/api/medical-records/patient-records'))).records
      },
      async view(cid: string, walletSignature?: string, signal?: AbortSignal): Promise<ViewedFile> {
        const { blob, headers } = await blobOf(
          http.GET('/api/medical-records/view/{cid}', {
            params: { path: { cid }, header: walletHeader(walletSignature) },
            headers: { Accept: '*/*' },
            parseAs: 'blob',
            signal,
          }),
        )
        return {
          blob,
          contentType: headers.get('content-type') ?? 'application/octet-stream',
          filename: filenameFrom(headers.get('content-disposition'), cid),
          integrityVerified: headers.get('x-integrity-verified') === 'true',
          blockchainVerified: headers.get('x-blockchain-hash-verified') === 'true',
          sha256: headers.get('x-content-sha256'),
          salt: headers.get('x-content-salt'),
        }
      },
      /** The record's verification bundle (file, salt, vault, record id, transaction) as a JSON download. */
      async bundle(cid: string, walletSignature: string): Promise<{ blob: Blob; filename: string }> {
        const { blob, headers } = await blobOf(
          http.GET('/api/medical-records/bundle/{cid}', { params: { path: { cid }, header: walletHeader(walletSignature) }, parseAs: 'blob' }),
        )
        return { blob, filename: filenameFrom(headers.get('content-disposition'), `${cid}.bundle.json`) }
      },
      /** Every version of a structured record (from any one of them), newest first, each with its anchor and state. */
      history: (cid: string, signal?: AbortSignal): Promise<RecordHistory> =>
        unwrap(http.GET('/api/medical-records/{cid}/history', { params: { path: { cid } }, signal })),
      verify: (cid: string, walletSignature?: string) =>
        unwrap(http.GET('/api/medical-records/verify/{cid}', { params: { path: { cid }, header: walletHeader(walletSignature) } })),
    },
    fhir: {
      /**
       * GET /api/fhir/bundle: every readable record as one FHIR Bundle (a patient's own vault; a doctor
       * passes `patient`), as the bytes to save, with how many records were exported and left out.
       */
      async bundle(walletSignature: string, patient?: string): Promise<{ blob: Blob; exported: number | null; skipped: string }> {
        const { blob, headers } = await blobOf(
          http.GET('/api/fhir/bundle', {
            params: { query: patient ? { patient } : undefined, header: walletHeader(walletSignature) },
            headers: { Accept: 'application/fhir+json' },
            parseAs: 'blob',
          }),
        )
        const exported = headers.get('x-records-exported')
        return { blob, exported: exported === null ? null : Number(exported), skipped: headers.get('x-records-skipped') ?? '' }
      },
      /**
       * POST /api/fhir/import/prepare: what a Bundle (its text, sent as read from the file) becomes in the
       * patient's vault, the records to sign and upload and the entries refused. Stores nothing.
       */
      importPrepare: (bundleText: string): Promise<ImportPlan> =>
        unwrap(
          http.POST('/api/fhir/import/prepare', {
            // The server reads the raw bytes; send the file's text as it is, not re-serialised.
            body: bundleText as unknown as FhirBundle,
            bodySerializer: (body: unknown) => body as string,
            headers: { 'Content-Type': 'application/fhir+json' },
          }),
        ),
    },
    access: {
      async patientRequests(): Promise<AccessRequest[]> {
        return (await unwrap(http.GET('/api/access-requests/patient/requests'))).requests
      },
      respond: (body: RespondBody) => unwrap(http.POST('/api/access-requests/patient/respond', { body })),
      revoke: (body: RevokeBody) => unwrap(http.POST('/api/access-requests/patient/revoke', { body })),
      /** Whom the patient shares with now, read from the chain. */
      async patientGrants(): Promise<PatientGrant[]> {
        return (await unwrap(http.GET('/api/access-requests/patient/grants'))).grants
      },
      approveExtension: (body: ApproveExtensionBody) => unwrap(http.POST('/api/access-requests/patient/approve-extension', { body })),
      /** Let a doctor add records to the patient's vault until the grant expires (a signed `approveWrite`). */
      grantWrite: (body: WriteGrantBody) => unwrap(http.POST('/api/access-requests/patient/write-grant', { body })),
      /** Take write access back (a signed `revokeWrite`). */
      revokeWrite: (body: WriteRevokeBody) => unwrap(http.POST('/api/access-requests/patient/write-revoke', { body })),
      /** Doctors who may add records to the patient's vault now, read from the chain. */
      async patientWriteGrants(): Promise<PatientWriteGrant[]> {
        return (await unwrap(http.GET('/api/access-requests/patient/write-grants'))).grants
      },
      /** Vaults the signed-in doctor may add records to now. */
      async doctorWriteGrants(): Promise<DoctorWriteGrant[]> {
        return (await unwrap(http.GET('/api/access-requests/doctor/write-grants'))).grants
      },
      request: (body: AccessRequestBody) => unwrap(http.POST('/api/access-requests/doctor/request', { body })),
      /** The doctor's own requests, newest first, with their state. */
      async doctorRequests(): Promise<DoctorRequest[]> {
        return (await unwrap(http.GET('/api/access-requests/doctor/requests'))).requests
      },
      /** One row per shared record, with its patient and the grant's expiry. */
      async authorizedRecords(): Promise<AuthorizedRecord[]> {
        const { grants } = await unwrap(http.GET('/api/access-requests/doctor/authorized-records'))
        return grants.flatMap(({ patient, expires_at, records }) =>
          records.flatMap((record) => (record.cid ? [{ ...record, cid: record.cid, patient, expires_at }] : [])),
        )
      },
      extend: (body: ExtendBody) => unwrap(http.POST('/api/access-requests/doctor/extend', { body })),
    },
    audit: {
      async patient(): Promise<AuditEvent[]> {
        return (await unwrap(http.GET('/api/audit/patient'))).events
      },
      /** Every patient's trail (registrars), one page at a time. */
      all: (page: number, pageSize: number) => unwrap(http.GET('/api/audit/all', { params: { query: { page, page_size: pageSize } } })),
      async patientViews(): Promise<RecordViews[]> {
        return (await unwrap(http.GET('/api/audit/patient/views'))).records
      },
    },
    directory: {
      async doctors(q: string): Promise<DoctorSummary[]> {
        return (await unwrap(http.GET('/api/doctors/search', { params: { query: { q } } }))).results
      },
      /** One page of doctors matching `q` (every doctor when empty), with the total. */
      doctorPage: (q: string, pageSize: number) => unwrap(http.GET('/api/doctors/search', { params: { query: { q, page_size: pageSize } } })),
      async patients(q: string): Promise<PatientSummary[]> {
        return (await unwrap(http.GET('/api/patients/search', { params: { query: { q } } }))).results
      },
    },
    admin: {
      registerDoctor: (body: DoctorBody) => unwrap(http.POST('/api/admin/doctors', { body })),
      unregisterDoctor: (address: string) => unwrap(http.DELETE('/api/admin/doctors/{address}', { params: { path: { address } } })),
    },
    system: {
      status: () => unwrap(publicHttp.GET('/api/system/status')),
      /** Optional client configuration; an older server without it yields `{}`. */
      async config(): Promise<Partial<ClientConfig>> {
        try {
          return (await unwrap(publicHttp.GET('/api/system/config'))) ?? {}
        } catch (error) {
          if (error instanceof ApiError && error.status === 404) return {}
          throw error
        }
      },
      /** How many blocks confirm a transaction, out of those the server waits for ("confirming (n of m)"). */
      transaction: (txHash: string, signal?: AbortSignal) =>
        unwrap(publicHttp.GET('/api/system/transactions/{tx_hash}', { params: { path: { tx_hash: txHash } }, signal })),
    },
    profile: {
      /** The caller's own profile (a patient sees their name even while it is not published). */
      get: () => unwrap(http.GET('/api/profile')),
      /** A patient's display name and whether doctors can find them by it. */
      put: (body: ProfileBody) => unwrap(http.PUT('/api/profile', { body })),
    },
    notifications: {
      /** Badge counts and change tokens (GET /api/notifications); "new" counts after `since` (server Unix seconds). */
      get: (since?: number) =>
        unwrap(http.GET('/api/notifications', { params: { query: since === undefined ? {} : { since } } })),
    },
  }
}

export type Api = ReturnType<typeof createApi>
