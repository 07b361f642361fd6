import { describe, expect, it, vi } from 'vitest'
import { ApiClient } from '../../api/client'
import { createApi } from '../../api/endpoints'
import { parseErrorBody } from '../../api/errors'
import type { AuthorizedRecord, DoctorWriteGrant, MedicalRecord } from '../../api/types'
import type { SignedAction } from '../../session/SessionContext'
import { authorMayRead, doctorUploadMessage, uploadAsDoctor, type DoctorUploadInput } from './doctorUpload'

const PATIENT = '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc'
const HASH = `0x${'aa'.repeat(32)}` as const
const SALT = `0x${'5a'.repeat(32)}` as const
const SIGNED: SignedAction = { signature: `0x${'cd'.repeat(65)}`, nonce: 4, deadline: 1_900_000_000, payload: {} as SignedAction['payload'] }
const RECORD = { cid: 'bafyrecord', state: 'confirmed', record_id: 2, patient: PATIENT } as MedicalRecord

/** The real endpoint wrapper over a client whose multipart POST is captured (the browser's XHR is not here). */
function capturingApi(status = 201) {
  const client = new ApiClient({ baseUrl: 'http://app.test', fetch: (async () => new Response('{}')) as typeof fetch })
  const sent: { path: string; form: FormData }[] = []
  client.upload = vi.fn(async <T,>(path: string, form: FormData) => {
    sent.push({ path, form })
    return { status, body: RECORD as T }
  }) as ApiClient['upload']
  return { api: createApi(client), sent }
}

const input = (): DoctorUploadInput => ({
  patientAddress: PATIENT,
  file: new File(['Amoxicillin 500 mg, three times a day'], 'rx.txt', { type: 'text/plain' }),
  recordType: 'prescription',
  name: '  Amoxicillin  ',
  contentHash: HASH,
  salt: SALT,
})

describe('uploadAsDoctor', () => {
  it('asks for one signature (addRecordAsDoctor over patient, type and salted hash) and posts the multipart form', async () => {
    const { api, sent } = capturingApi()
    const signAction = vi.fn(async () => SIGNED)
    const order: string[] = []
    const result = await uploadAsDoctor(input(), { api, signAction, onSigned: () => order.push('signed') })

    expect(result).toEqual({ status: 201, body: RECORD })
    expect(signAction).toHaveBeenCalledTimes(1)
    expect(signAction).toHaveBeenCalledWith('addRecordAsDoctor', { patientAddress: PATIENT, recordType: 'prescription', contentHash: HASH })
    expect(order).toEqual(['signed'])
    expect(sent).toHaveLength(1)
    const { path, form } = sent[0]
    expect(path).toBe('/api/medical-records/doctor/upload')
    expect(Object.fromEntries([...form.keys()].map((k) => [k, form.get(k) instanceof File ? 'file' : form.get(k)]))).toEqual({
      patientAddress: PATIENT,
      file: 'file',
      recordType: 'prescription',
      name: 'Amoxicillin',
      recordSignature: SIGNED.signature,
      nonce: '4',
      deadline: '1900000000',
      salt: SALT,
    })
    // No key signature: the server encrypts to the registered public keys.
    expect(form.has('walletSignature')).toBe(false)
    expect((form.get('file') as File).name).toBe('rx.txt')
  })

  it('a declined signature sends nothing', async () => {
    const { api, sent } = capturingApi()
    const declined = Object.assign(new Error('User rejected the request.'), { code: 4001 })
    await expect(uploadAsDoctor(input(), { api, signAction: async () => Promise.reject(declined) })).rejects.toBe(declined)
    expect(sent).toEqual([])
  })
})

describe('doctorUploadMessage', () => {
  const refusal = (status: number, code: string) => parseErrorBody(status, { error: { code, message: `server says ${code}` } })

  it('says what to do for each refusal of the doctor upload', () => {
    expect(doctorUploadMessage(refusal(403, 'no_write_grant'))).toMatch(/has not given you write access, or it has expired or been revoked/)
    expect(doctorUploadMessage(refusal(409, 'patient_key_missing'))).toMatch(/^This patient has not set up their encryption key yet/)
    expect(doctorUploadMessage(refusal(409, 'doctor_key_missing'))).toMatch(/Your encryption key is not set up yet.*Set up encryption key/)
    expect(doctorUploadMessage(refusal(409, 'key_binding_invalid'))).toMatch(/failed its signature check/)
    expect(doctorUploadMessage(refusal(403, 'not_registered_doctor'))).toMatch(/not a registered doctor/)
    for (const code of ['no_write_grant', 'patient_key_missing', 'doctor_key_missing', 'key_binding_invalid']) {
      expect(doctorUploadMessage(refusal(409, code))).toMatch(/Nothing was stored/)
      expect(doctorUploadMessage(refusal(409, code))).not.toMatch(/Integrity check failed/)
    }
  })

  it('falls back to the readable error for anything else', () => {
    expect(doctorUploadMessage(refusal(413, 'file_too_large'))).toBe('The file is too large: server says file_too_large')
    expect(doctorUploadMessage(Object.assign(new Error('x'), { code: 4001 }))).toMatch(/You declined the request/)
  })
})

describe('authorMayRead', () => {
  const NOW = Date.parse('2026-06-01T00:00:00Z')
  const grant = (expiresAt: number, patientAddress = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'): DoctorWriteGrant => ({ patientAddress, patientName: null, expiresAt })
  const shared = (cid: string) => ({ cid }) as AuthorizedRecord

  it('yes with a live write grant from its patient (any case) or a read approval of the record', () => {
    expect(authorMayRead(RECORD, [grant(NOW / 1000 + 60)], [], NOW)).toBe('yes')
    expect(authorMayRead(RECORD, [], [shared('bafyrecord')], NOW)).toBe('yes')
  })

  it('no once both lists are known and neither lets them read', () => {
    expect(authorMayRead(RECORD, [grant(NOW / 1000 - 1)], [shared('bafyother')], NOW)).toBe('no')
    expect(authorMayRead(RECORD, [grant(NOW / 1000 + 60, '0x0000000000000000000000000000000000000001')], [], NOW)).toBe('no')
  })

  it('unknown while a list is loading or failed', () => {
    expect(authorMayRead(RECORD, undefined, [], NOW)).toBe('unknown')
    expect(authorMayRead(RECORD, [], undefined, NOW)).toBe('unknown')
  })
})
