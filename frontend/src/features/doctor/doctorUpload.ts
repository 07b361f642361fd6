/**
 * A doctor adding a record to a patient's vault (keys v2), without React, so the flow and its error
 * messages are unit-tested on their own:
 *
 * 1. the file's salted fingerprint SHA-256(salt ‖ file) comes from the hashing worker (as the
 *    patient's upload);
 * 2. ONE wallet prompt: the doctor's `addRecordAsDoctor` (EIP-712 over patient, type, fingerprint);
 * 3. POST /api/medical-records/doctor/upload. No key signature: the server seals the record's data
 *    key to the patient's and the doctor's registered public keys.
 */
import { ApiError, readableError } from '../../api/errors'
import type { UploadProgress, UploadResult } from '../../api/client'
import type { Api } from '../../api/endpoints'
import type { AuthorizedRecord, DoctorWriteGrant, MedicalRecord, RecordType } from '../../api/types'
import { toDate } from '../../lib/format'
import type { SignedAction } from '../../session/SessionContext'

export interface DoctorUploadInput {
  patientAddress: string
  file: File
  recordType: RecordType
  name: string
  contentHash: `0x${string}`
  salt: `0x${string}`
  /** An amendment: the CID of the version it replaces. */
  replaces?: string
}

export interface DoctorUploadDeps {
  api: Pick<Api, 'records'>
  signAction: (action: 'addRecordAsDoctor', params: { patientAddress: string; recordType: RecordType; contentHash: string }) => Promise<SignedAction>
  /** Called once the signature is given, before the file is sent. */
  onSigned?: () => void
  onProgress?: (p: UploadProgress) => void
  signal?: AbortSignal
}

/** Sign `addRecordAsDoctor` for this file's fingerprint and send it: the record (201 mined, 202 pending, 200 replay). */
export async function uploadAsDoctor(input: DoctorUploadInput, deps: DoctorUploadDeps): Promise<UploadResult<MedicalRecord>> {
  const { patientAddress, file, recordType, name, contentHash, salt, replaces } = input
  const signed = await deps.signAction('addRecordAsDoctor', { patientAddress, recordType, contentHash })
  deps.onSigned?.()
  return deps.api.records.doctorUpload(
    {
      patientAddress,
      file,
      fileName: file.name,
      recordType,
      name: name.trim(),
      recordSignature: signed.signature,
      nonce: signed.nonce,
      deadline: signed.deadline,
      salt,
      replaces,
    },
    deps.onProgress,
    deps.signal,
  )
}

/** What to tell the doctor when an upload is refused: what happened, and what to do about it. */
const REASONS: Record<string, string> = {
  no_write_grant:
    'This patient has not given you write access, or it has expired or been revoked. Ask the patient to let you add records (their Sharing screen, “Write access”). Nothing was stored.',
  not_registered_doctor: 'Your address is not a registered doctor in the on-chain registry, so you cannot add records. Nothing was stored.',
  patient_key_missing:
    'This patient has not set up their encryption key yet, so the record cannot be encrypted for them. Ask them to sign in to HealthLedger once (that sets it up), then try again. Nothing was stored.',
  doctor_key_missing:
    'Your encryption key is not set up yet, so the record cannot be encrypted for you. Use “Set up encryption key” at the top of the page, then try again. Nothing was stored.',
  key_binding_invalid:
    'An encryption key on file failed its signature check, so HealthLedger refused to encrypt to it. Nothing was stored. Please contact support.',
  signature_expired: 'Your signature expired before the file arrived. Sign again to retry.',
  stale_nonce: 'Your signature was already used or cancelled. Sign again to retry.',
  upload_in_progress: 'This upload is already being processed. Wait a moment, then look under “Records you added”.',
  record_superseded: 'Someone already amended this version: a newer one replaces it. Nothing was stored. Open the current version and amend that one.',
  record_pending: 'The version you amend is not on the chain yet, so its anchor is not known. Nothing was stored. Try again once it shows as confirmed.',
  not_record_author: 'Only the doctor who wrote a record can amend it, while the patient lets them add records. Nothing was stored.',
  fhir_replaces_mismatch: 'The amendment does not name the version it replaces as the server expects. Nothing was stored. Close the form and start the amendment again.',
}

export function doctorUploadMessage(error: unknown): string {
  if (error instanceof ApiError && REASONS[error.code]) return REASONS[error.code]
  return readableError(error)
}

export type ReadAccess = 'yes' | 'no' | 'unknown'

/**
 * Whether the doctor may still open a record they added: the server lets its author read it while the
 * chain says canWrite (a live write grant from its patient) or canRead (the record is shared with
 * them). Unknown while either list is loading or failed (the button stays; the server decides).
 */
export function authorMayRead(
  record: Pick<MedicalRecord, 'patient' | 'cid'>,
  writeGrants: DoctorWriteGrant[] | undefined,
  authorized: AuthorizedRecord[] | undefined,
  now: number = Date.now(),
): ReadAccess {
  const patient = record.patient.toLowerCase()
  if (writeGrants?.some((g) => g.patientAddress.toLowerCase() === patient && (toDate(g.expiresAt)?.getTime() ?? 0) > now)) return 'yes'
  if (authorized?.some((r) => r.cid === record.cid)) return 'yes'
  return writeGrants && authorized ? 'no' : 'unknown'
}
