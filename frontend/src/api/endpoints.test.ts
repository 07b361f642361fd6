import { describe, expect, it } from 'vitest'
import { ApiClient } from './client'
import { createApi } from './endpoints'
import { ApiError } from './errors'

const BASE = 'http://app.test'

/** An API whose fetch answers from a table of `METHOD /path?query` -> Response. */
function apiWith(routes: Record<string, () => Response>) {
  const seen: Request[] = []
  const fetch = (async (request: Request) => {
    seen.push(request)
    const url = new URL(request.url)
    const answer = routes[`${request.method} ${url.pathname}${url.search}`]
    return answer ? answer() : new Response(JSON.stringify({ error: { code: 'not_found', message: 'no route' } }), { status: 404, headers: { 'content-type': 'application/json' } })
  }) as typeof globalThis.fetch
  return { api: createApi(new ApiClient({ baseUrl: BASE, fetch })), seen }
}

const json = (body: unknown) => () => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } })

describe('typed endpoints', () => {
  it("flattens the doctor's grants into one row per shared record the service knows", async () => {
    const { api } = apiWith({
      'GET /api/access-requests/doctor/authorized-records': json({
        source: 'database',
        grants: [
          { patient: '0xP1', expires_at: 100, records: [{ record_id: 0, cid: 'cid-a', name: 'A', record_type: 'report' }, { record_id: 1, cid: null, name: null, record_type: null }] },
          { patient: '0xP2', expires_at: 200, records: [{ record_id: 3, cid: 'cid-b', name: 'B', record_type: 'bill' }] },
        ],
      }),
    })
    expect(await api.access.authorizedRecords()).toEqual([
      { record_id: 0, cid: 'cid-a', name: 'A', record_type: 'report', patient: '0xP1', expires_at: 100 },
      { record_id: 3, cid: 'cid-b', name: 'B', record_type: 'bill', patient: '0xP2', expires_at: 200 },
    ])
  })

  it('sends query and path parameters, and reads a viewed file with what the server checked', async () => {
    const SALT = `0x${'ab'.repeat(32)}`
    const { api, seen } = apiWith({
      'GET /api/audit/all?page=2&page_size=50': json({ page: 2, page_size: 50, total: 51, pages: 2, patients: 1, events: [] }),
      'GET /api/medical-records/view/cid-a': () =>
        new Response('hello', {
          status: 200,
          headers: {
            'content-type': 'text/plain',
            'content-disposition': "attachment; filename*=UTF-8''blood%20test.txt",
            'x-integrity-verified': 'true',
            'x-blockchain-hash-verified': 'true',
            'x-content-sha256': 'abc',
            'x-content-salt': SALT,
          },
        }),
      'GET /api/medical-records/bundle/cid-a': () =>
        new Response('{"version":1}', {
          status: 200,
          headers: { 'content-type': 'application/json', 'content-disposition': "attachment; filename*=UTF-8''blood%20test.bundle.json" },
        }),
    })
    expect((await api.audit.all(2, 50)).pages).toBe(2)
    const file = await api.records.view('cid-a', '0xsig')
    expect(await file.blob.text()).toBe('hello')
    expect(file).toMatchObject({ contentType: 'text/plain', filename: 'blood test.txt', integrityVerified: true, blockchainVerified: true, sha256: 'abc', salt: SALT })
    expect(seen.at(-1)?.headers.get('x-wallet-signature')).toBe('0xsig')
    const bundle = await api.records.bundle('cid-a', '0xsig2')
    expect(bundle.filename).toBe('blood test.bundle.json')
    expect(JSON.parse(await bundle.blob.text())).toEqual({ version: 1 })
    expect(seen.at(-1)?.headers.get('x-wallet-signature')).toBe('0xsig2')
  })

  it('turns a missing optional endpoint into an empty config, and any other refusal into an ApiError', async () => {
    const { api } = apiWith({})
    expect(await api.system.config()).toEqual({})
    await expect(api.records.patientRecords()).rejects.toBeInstanceOf(ApiError)
  })

  it('posts write grants, revocations and cancelled signatures as the API documents them, and reads both write-grant lists', async () => {
    const DOCTOR = '0x90F79bf6EB2c4f870365E785982E1f101E93b906'
    const PATIENT = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
    const { api, seen } = apiWith({
      'POST /api/access-requests/patient/write-grant': json({ doctorAddress: DOCTOR, expiresAt: 1_900_000_000, txHash: '0xt1' }),
      'POST /api/access-requests/patient/write-revoke': json({ doctorAddress: DOCTOR, txHash: '0xt2' }),
      'POST /api/signing/invalidate-nonce': json({ account: PATIENT, nonce: 4, txHash: '0xt3' }),
      'GET /api/access-requests/patient/write-grants': json({ grants: [{ doctorAddress: DOCTOR, doctorName: 'Dr. Ada', expiresAt: 1_900_000_000 }] }),
      'GET /api/access-requests/doctor/write-grants': json({ grants: [{ patientAddress: PATIENT, patientName: null, expiresAt: 1_900_000_000 }] }),
    })
    const signed = { signature: '0xsig', nonce: 3, deadline: 1_800_000_000 }
    expect(await api.access.grantWrite({ doctorAddress: DOCTOR, durationSeconds: 86_400, ...signed })).toEqual({ doctorAddress: DOCTOR, expiresAt: 1_900_000_000, txHash: '0xt1' })
    expect(await seen.at(-1)?.json()).toEqual({ doctorAddress: DOCTOR, durationSeconds: 86_400, ...signed })
    expect((await api.access.revokeWrite({ doctorAddress: DOCTOR, ...signed })).txHash).toBe('0xt2')
    expect(await seen.at(-1)?.json()).toEqual({ doctorAddress: DOCTOR, ...signed })
    expect(await api.signing.invalidateNonce(signed)).toEqual({ account: PATIENT, nonce: 4, txHash: '0xt3' })
    expect(await seen.at(-1)?.json()).toEqual(signed)
    expect(await api.access.patientWriteGrants()).toEqual([{ doctorAddress: DOCTOR, doctorName: 'Dr. Ada', expiresAt: 1_900_000_000 }])
    expect(await api.access.doctorWriteGrants()).toEqual([{ patientAddress: PATIENT, patientName: null, expiresAt: 1_900_000_000 }])
  })

  it('turns a refused write grant into an ApiError with the code the server gave', async () => {
    const { api } = apiWith({
      'POST /api/access-requests/patient/write-grant': () =>
        new Response(JSON.stringify({ error: { code: 'doctor_not_registered', message: 'not a registered doctor' } }), { status: 409, headers: { 'content-type': 'application/json' } }),
    })
    const refusal = api.access.grantWrite({ doctorAddress: '0x90F79bf6EB2c4f870365E785982E1f101E93b906', durationSeconds: 60, signature: '0xsig', nonce: 0, deadline: 1 })
    await expect(refusal).rejects.toMatchObject({ status: 409, code: 'doctor_not_registered' })
  })
})
