/** Typed wrappers for every backend endpoint the app uses. */
import type { ApiClient, UploadProgress, UploadResult } from './client'
import { ApiError } from './errors'
import type {
  AccessRequest,
  AuditEvent,
  AuditPage,
  AuthorizedRecord,
  ClientConfig,
  DoctorRequest,
  KeyDerivationMessage,
  MedicalRecord,
  PatientGrant,
  NonceResponse,
  PersonSummary,
  RecordType,
  SystemStatus,
  TokenResponse,
  TypedDataAction,
  TypedDataPayload,
  VerifyResult,
  ViewedFile,
} from './types'

/** Accept `{key: [...]}` or a bare array; endpoints that don't exist yet may settle on either. */
function listFrom<T>(body: unknown, ...keys: string[]): T[] {
  if (Array.isArray(body)) return body as T[]
  if (body && typeof body === 'object') {
    for (const key of keys) {
      const value = (body as Record<string, unknown>)[key]
      if (Array.isArray(value)) return value as T[]
    }
  }
  return []
}

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

export interface UploadFields {
  file: Blob
  fileName: string
  recordType: RecordType
  name: string
  walletSignature: string
  recordSignature: string
  nonce: number | string
  deadline: number | string
}

export function createApi(client: ApiClient) {
  const path = (template: string, ...values: string[]) =>
    values.reduce((acc, value) => acc.replace('{}', encodeURIComponent(value)), template)

  return {
    client,
    auth: {
      nonce: () => client.request<NonceResponse>('/api/auth/nonce', { auth: false }),
      login: (message: string, signature: string) =>
        client.request<TokenResponse>('/api/auth/login', { method: 'POST', json: { message, signature }, auth: false }),
    },
    signing: {
      keyDerivationMessage: () => client.request<KeyDerivationMessage>('/api/signing/key-derivation-message', { auth: false }),
      typedData: (action: TypedDataAction, params: Record<string, unknown>) =>
        client.request<TypedDataPayload>('/api/signing/typed-data', { method: 'POST', json: { action, params } }),
    },
    records: {
      upload(fields: UploadFields, onProgress?: (p: UploadProgress) => void, signal?: AbortSignal): Promise<UploadResult<MedicalRecord>> {
        const form = new FormData()
        form.append('file', fields.file, fields.fileName)
        form.append('recordType', fields.recordType)
        form.append('name', fields.name)
        form.append('walletSignature', fields.walletSignature)
        form.append('recordSignature', fields.recordSignature)
        form.append('nonce', String(fields.nonce))
        form.append('deadline', String(fields.deadline))
        return client.upload<MedicalRecord>('/api/medical-records/upload', form, onProgress, signal)
      },
      async patientRecords(): Promise<MedicalRecord[]> {
        return listFrom<MedicalRecord>(await client.request('/api/medical-records/patient-records'), 'records')
      },
      async view(cid: string, walletSignature?: string, signal?: AbortSignal): Promise<ViewedFile> {
        const headers: Record<string, string> = { Accept: '*/*' }
        if (walletSignature) headers['X-Wallet-Signature'] = walletSignature
        const response = await client.fetchRaw(path('/api/medical-records/view/{}', cid), { headers, signal })
        const contentType = response.headers.get('content-type') ?? 'application/octet-stream'
        return {
          blob: await response.blob(),
          contentType,
          filename: filenameFrom(response.headers.get('content-disposition'), cid),
          integrityVerified: response.headers.get('x-integrity-verified') === 'true',
          blockchainVerified: response.headers.get('x-blockchain-hash-verified') === 'true',
          sha256: response.headers.get('x-content-sha256'),
        }
      },
      verify: (cid: string, walletSignature?: string) =>
        client.request<VerifyResult>(path('/api/medical-records/verify/{}', cid), {
          headers: walletSignature ? { 'X-Wallet-Signature': walletSignature } : {},
        }),
    },
    access: {
      async patientRequests(): Promise<AccessRequest[]> {
        return listFrom<AccessRequest>(await client.request('/api/access-requests/patient/requests'), 'requests', 'items')
      },
      respond: (body: {
        requestId: string
        action: 'approve' | 'deny'
        selectedRecords: number[]
        /** How long the grant lasts, in seconds (approve only): the signed `duration`. */
        durationSeconds?: number
        walletSignature?: string
        approvalSignature: string
        nonce: number | string
        deadline: number | string
      }) => client.request<unknown>('/api/access-requests/patient/respond', { method: 'POST', json: body }),
      revoke: (body: { doctorAddress: string; recordIds?: number[]; signature: string; nonce: number | string; deadline: number | string }) =>
        client.request<unknown>('/api/access-requests/patient/revoke', { method: 'POST', json: body }),
      /** Whom the patient shares with now, read from the chain. */
      async patientGrants(): Promise<PatientGrant[]> {
        return listFrom<PatientGrant>(await client.request('/api/access-requests/patient/grants'), 'grants')
      },
      approveExtension: (body: { doctorAddress: string; signature: string; nonce: number | string; deadline: number | string }) =>
        client.request<unknown>('/api/access-requests/patient/approve-extension', { method: 'POST', json: body }),
      request: (body: { patientAddress: string; requestReason: string; signature: string; nonce: number | string; deadline: number | string }) =>
        client.request<unknown>('/api/access-requests/doctor/request', { method: 'POST', json: body }),
      /** The doctor's own requests, newest first, with their state. */
      async doctorRequests(): Promise<DoctorRequest[]> {
        return listFrom<DoctorRequest>(await client.request('/api/access-requests/doctor/requests'), 'requests')
      },
      async authorizedRecords(): Promise<AuthorizedRecord[]> {
        const body = await client.request('/api/access-requests/doctor/authorized-records')
        // The API answers { grants: [{ patient, expires_at, records: [...] }] }: one row per shared record.
        const grants = listFrom<{ patient?: string; expires_at?: number | string; records?: AuthorizedRecord[] }>(body, 'grants')
        if (grants.length) {
          return grants.flatMap((grant) =>
            (grant.records ?? [])
              .filter((record) => record.cid)
              .map((record) => ({ ...record, patient: record.patient ?? grant.patient, expires_at: record.expires_at ?? grant.expires_at })),
          )
        }
        return listFrom<AuthorizedRecord>(body, 'records', 'items')
      },
      /** `extraSeconds`: the signed `extra`, in seconds. */
      extend: (body: { patientAddress: string; extraSeconds: number; signature: string; nonce: number | string; deadline: number | string }) =>
        client.request<unknown>('/api/access-requests/doctor/extend', { method: 'POST', json: body }),
    },
    audit: {
      async patient(): Promise<AuditEvent[]> {
        return listFrom<AuditEvent>(await client.request('/api/audit/patient'), 'events', 'items', 'audit')
      },
      /** Every patient's trail (registrars), one page at a time. */
      async all(page: number, pageSize: number): Promise<AuditPage> {
        const body = await client.request<Partial<AuditPage>>(`/api/audit/all?page=${page}&page_size=${pageSize}`)
        const events = listFrom<AuditEvent>(body, 'events')
        return { events, page: body?.page ?? page, pages: body?.pages ?? 1, total: body?.total ?? events.length, patients: body?.patients }
      },
    },
    directory: {
      async doctors(q: string): Promise<PersonSummary[]> {
        return listFrom<PersonSummary>(await client.request(`/api/doctors/search?q=${encodeURIComponent(q)}`), 'doctors', 'results', 'items')
      },
      async patients(q: string): Promise<PersonSummary[]> {
        return listFrom<PersonSummary>(await client.request(`/api/patients/search?q=${encodeURIComponent(q)}`), 'patients', 'results', 'items')
      },
    },
    admin: {
      registerDoctor: (body: { address: string; name: string; licenceId: string }) =>
        client.request<unknown>('/api/admin/doctors', { method: 'POST', json: body }),
      unregisterDoctor: (address: string) => client.request<unknown>(path('/api/admin/doctors/{}', address), { method: 'DELETE' }),
    },
    system: {
      status: () => client.request<SystemStatus>('/api/system/status', { auth: false }),
      /** Optional client configuration; an older server without it yields `{}`. */
      async config(): Promise<ClientConfig> {
        try {
          return (await client.request<ClientConfig>('/api/system/config', { auth: false })) ?? {}
        } catch (error) {
          if (error instanceof ApiError && error.status === 404) return {}
          throw error
        }
      },
    },
  }
}

export type Api = ReturnType<typeof createApi>
