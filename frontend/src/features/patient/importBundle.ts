/**
 * Importing a FHIR Bundle (README "FHIR records: Importing a Bundle"), step two, without React so the
 * order and the per-record outcomes are unit-tested: each prepared record (exact bytes from
 * POST /api/fhir/import/prepare) is fingerprinted with a fresh salt, signed by the patient (one
 * `AddRecord` each) and sent through the ordinary upload, one after another. The next record's
 * signature is asked for only once the previous one is on chain, as the upload queue does: the
 * typed-data endpoint hands out the vault's next nonce, so the signatures carry consecutive nonces.
 * A refused record is reported and the rest still import; a declined wallet prompt stops the rest.
 */
import type { UploadResult } from '../../api/client'
import { WALLET_ERRORS, walletErrorCodes } from '../../api/errors'
import type { UploadFields } from '../../api/endpoints'
import { isOnChain, type ImportRecord, type MedicalRecord, type RecordType } from '../../api/types'

/** The prepared bytes as the file to fingerprint and upload (its name from the record's name and type). */
export function importFile(record: Pick<ImportRecord, 'content' | 'contentType' | 'name' | 'resourceType'>): File {
  const binary = atob(record.content)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  const base = record.name.replace(/[^\w .()-]+/g, '_').trim() || 'record'
  const json = record.contentType.startsWith('application/fhir+json')
  const fileName = json && !/\.json$/i.test(base) ? `${base}.fhir.json` : base
  return new File([bytes], fileName, { type: record.contentType })
}

export type ImportOutcome = { state: 'waiting' } | { state: 'running' } | { state: 'done'; record: MedicalRecord } | { state: 'failed'; error: unknown }

export interface ImportDeps {
  /** SHA-256(salt ‖ bytes) with a fresh salt (the hashing worker). */
  hash: (file: File) => Promise<{ contentHash: `0x${string}`; salt: `0x${string}` }>
  /** The patient's AddRecord signature (one wallet prompt). */
  sign: (recordType: RecordType, contentHash: string) => Promise<{ signature: string; nonce: number; deadline: number }>
  upload: (fields: Omit<UploadFields, 'walletSignature'>) => Promise<UploadResult<MedicalRecord>>
  /** Poll until the record is mined (null: not within the wait). */
  waitOnChain: (cid: string) => Promise<MedicalRecord | null>
  onChange: (index: number, outcome: ImportOutcome) => void
  shouldStop?: () => boolean
}

/** A wallet's "user rejected the request" (EIP-1193 code 4001): the patient said no, so stop. */
export function isDeclined(error: unknown): boolean {
  return walletErrorCodes(error).includes(WALLET_ERRORS.userRejected)
}

/** Sign and upload every record in order; returns how many landed. */
export async function importRecords(records: readonly ImportRecord[], deps: ImportDeps): Promise<number> {
  let done = 0
  for (let index = 0; index < records.length; index++) {
    if (deps.shouldStop?.()) break
    const prepared = records[index]
    deps.onChange(index, { state: 'running' })
    try {
      const file = importFile(prepared)
      const { contentHash, salt } = await deps.hash(file)
      const signed = await deps.sign(prepared.recordType, contentHash)
      const { status, body } = await deps.upload({
        file,
        fileName: file.name,
        recordType: prepared.recordType,
        name: prepared.name,
        recordSignature: signed.signature,
        nonce: signed.nonce,
        deadline: signed.deadline,
        salt,
      })
      let record: MedicalRecord | null = body
      if (status === 202 || !isOnChain(body)) {
        record = await deps.waitOnChain(body.cid)
        if (!record) throw new Error('Sent, but not mined yet. It shows in My records once it is; the remaining records were not signed.')
      }
      done++
      deps.onChange(index, { state: 'done', record })
    } catch (error) {
      deps.onChange(index, { state: 'failed', error })
      if (isDeclined(error) || (error instanceof Error && error.message.startsWith('Sent, but not mined'))) {
        for (let rest = index + 1; rest < records.length; rest++) deps.onChange(rest, { state: 'waiting' })
        break
      }
    }
  }
  return done
}
