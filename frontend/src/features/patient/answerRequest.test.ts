import { describe, expect, it, vi } from 'vitest'
import { ApiClient } from '../../api/client'
import { createApi } from '../../api/endpoints'
import { approvedWriteAsks } from '../doctor/MyRequests'
import type { SignedAction } from '../../session/SessionContext'
import { approveRequest, chainNow, doctorTitle, grantWriteAccess, wantsWriteLine, writeFailureMessage, type ApprovalStep } from './answerRequest'

const DOCTOR = '0x90f79bf6eb2c4f870365e785982e1f101e93b906'
const KEY_SIGNATURE = `0x${'ee'.repeat(65)}`
const REQUEST = { id: 'req-1', doctor: DOCTOR, doctor_name: 'Ada Reader' }
const EXPIRES = 1_900_000_000
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

/** The real endpoint wrapper over a fetch that records every POST body and answers per path. */
function apiWith(answers: Record<string, () => Response>) {
  const posted: { path: string; body: Record<string, unknown> }[] = []
  const fetch = (async (request: Request) => {
    const path = new URL(request.url).pathname
    posted.push({ path, body: await request.json() })
    const answer = answers[path]
    return answer ? answer() : json({ error: { code: 'not_found', message: 'no route' } }, 404)
  }) as typeof globalThis.fetch
  return { api: createApi(new ApiClient({ baseUrl: 'http://app.test', fetch })), posted }
}

const RESPOND = '/api/access-requests/patient/respond'
const WRITE = '/api/access-requests/patient/write-grant'
const approved = () => json({ request_id: 'req-1', state: 'approved', doctor: DOCTOR, record_ids: [0, 2], expires_at: EXPIRES, tx_hash: '0xaa' })
const writeGranted = () => json({ doctorAddress: DOCTOR, expiresAt: EXPIRES, txHash: '0xbb' })

/** A wallet that signs every action with a different nonce, remembering what it was asked. */
function wallet(decline: string[] = []) {
  let nonce = 7
  return vi.fn(async (action: string, _params: unknown): Promise<SignedAction> => {
    if (decline.includes(action)) throw Object.assign(new Error('User rejected the request.'), { code: 4001 })
    nonce += 1
    return { signature: `0x${action.length.toString(16).padStart(2, '0').repeat(65)}`, nonce, deadline: 1_800_000_000, payload: {} as SignedAction['payload'] }
  })
}

describe('approveRequest', () => {
  it('without write access: one signature (approveRecords) and one POST, as before', async () => {
    const { api, posted } = apiWith({ [RESPOND]: approved })
    const signAction = wallet()
    const outcome = await approveRequest({ request: REQUEST, recordIds: [0, 2], days: 3, keySignature: KEY_SIGNATURE, grantWrite: false }, { api, signAction })

    expect(outcome).toEqual({ message: 'Approved 2 record(s) for 3 day(s).', writeFailure: null, txHash: '0xaa' })
    expect(signAction.mock.calls).toEqual([['approveRecords', { doctor: DOCTOR, recordIds: [0, 2], duration: 3 * 86400 }]])
    expect(posted.map((p) => p.path)).toEqual([RESPOND])
    expect(posted[0].body).toMatchObject({ requestId: 'req-1', action: 'approve', selectedRecords: [0, 2], durationSeconds: 3 * 86400, walletSignature: KEY_SIGNATURE, nonce: 8 })
  })

  it('with write access: approves first, then signs approveWrite for the same days and posts durationDays', async () => {
    const { api, posted } = apiWith({ [RESPOND]: approved, [WRITE]: writeGranted })
    const signAction = wallet()
    const steps: ApprovalStep[] = []
    const outcome = await approveRequest(
      { request: REQUEST, recordIds: [0, 2], days: 3, keySignature: KEY_SIGNATURE, grantWrite: true },
      { api, signAction, onStep: (step) => steps.push(step) },
    )

    expect(steps).toEqual(['approve-sign', 'approve-send', 'write-sign', 'write-send'])
    expect(signAction.mock.calls).toEqual([
      ['approveRecords', { doctor: DOCTOR, recordIds: [0, 2], duration: 3 * 86400 }],
      ['approveWrite', { doctor: DOCTOR, duration: 3 * 86400 }],
    ])
    expect(posted.map((p) => p.path)).toEqual([RESPOND, WRITE])
    // Days on the wire (the name); the signed duration is days * 86400 and the server checks they agree.
    expect(posted[1].body).toEqual({ doctorAddress: DOCTOR, durationDays: 3, signature: expect.stringMatching(/^0x/), nonce: 9, deadline: 1_800_000_000 })
    expect(posted[1].body).not.toHaveProperty('durationSeconds')
    expect(outcome.writeFailure).toBeNull()
    expect(outcome.message).toMatch(/^Approved 2 record\(s\) for 3 day\(s\)\. Dr Ada Reader may add records to your file until /)
  })

  it('a failed approval throws and never asks for the write signature', async () => {
    const { api, posted } = apiWith({ [RESPOND]: () => json({ error: { code: 'doctor_key_missing', message: 'The doctor has not set up their key.' } }, 409) })
    const signAction = wallet()
    await expect(
      approveRequest({ request: REQUEST, recordIds: [0], days: 1, keySignature: KEY_SIGNATURE, grantWrite: true }, { api, signAction }),
    ).rejects.toMatchObject({ code: 'doctor_key_missing' })
    expect(signAction.mock.calls.map(([action]) => action)).toEqual(['approveRecords'])
    expect(posted.map((p) => p.path)).toEqual([RESPOND])
  })

  it('a failed write step keeps the approval and says reading was granted but writing was not', async () => {
    const { api, posted } = apiWith({
      [RESPOND]: approved,
      [WRITE]: () => json({ error: { code: 'not_registered_doctor', message: 'That address is not a registered doctor.' } }, 403),
    })
    const outcome = await approveRequest({ request: REQUEST, recordIds: [0], days: 5, keySignature: KEY_SIGNATURE, grantWrite: true }, { api, signAction: wallet() })

    expect(posted.map((p) => p.path)).toEqual([RESPOND, WRITE])
    expect(outcome.message).toBe('Approved 1 record(s) for 5 day(s).')
    expect(outcome.writeFailure).toMatchObject({ doctor: DOCTOR, who: 'Dr Ada Reader', days: 5 })
    const text = writeFailureMessage(outcome.writeFailure!)
    expect(text).toMatch(/^Reading was granted, but Dr Ada Reader may not add records to your file: /)
    expect(text).toMatch(/not a registered doctor\. Try the write access again/)
  })

  it('a declined write signature is a write failure too (nothing posted for it); the retry grants it alone', async () => {
    const { api, posted } = apiWith({ [RESPOND]: approved, [WRITE]: writeGranted })
    const outcome = await approveRequest(
      { request: REQUEST, recordIds: [0], days: 2, keySignature: KEY_SIGNATURE, grantWrite: true },
      { api, signAction: wallet(['approveWrite']) },
    )
    expect(posted.map((p) => p.path)).toEqual([RESPOND])
    expect(writeFailureMessage(outcome.writeFailure!)).toMatch(/You declined the request in your wallet\. Nothing was signed or sent\. Try/)

    const retryWallet = wallet()
    const grant = await grantWriteAccess(DOCTOR, 2, { api, signAction: retryWallet })
    expect(grant.expiresAt).toBe(EXPIRES)
    expect(retryWallet.mock.calls).toEqual([['approveWrite', { doctor: DOCTOR, duration: 2 * 86400 }]])
    expect(posted.map((p) => p.path)).toEqual([RESPOND, WRITE])
    expect(posted[1].body).toMatchObject({ doctorAddress: DOCTOR, durationDays: 2 })
  })
})

describe('approveRequest keeping a later end (sharing that adds up)', () => {
  it('signs and posts the planned seconds for reading and writing; the write duration goes as durationSeconds', async () => {
    const { api, posted } = apiWith({ [RESPOND]: approved, [WRITE]: writeGranted })
    const signAction = wallet()
    const read = 8 * 86400 - 120
    const write = 5 * 86400 - 60
    const outcome = await approveRequest(
      { request: REQUEST, recordIds: [0, 2], days: 2, duration: read, writeDuration: write, keySignature: KEY_SIGNATURE, grantWrite: true },
      { api, signAction },
    )
    expect(signAction.mock.calls).toEqual([
      ['approveRecords', { doctor: DOCTOR, recordIds: [0, 2], duration: read }],
      ['approveWrite', { doctor: DOCTOR, duration: write }],
    ])
    expect(posted[0].body).toMatchObject({ selectedRecords: [0, 2], durationSeconds: read })
    expect(posted[1].body).toMatchObject({ durationSeconds: write })
    expect(posted[1].body).not.toHaveProperty('durationDays')
    // Not "for 2 day(s)": the grant runs to the later end the chain reports.
    expect(outcome.message).toMatch(/^Approved 2 record\(s\) until .+\. Dr Ada Reader may add records/)
    expect(outcome.message).not.toMatch(/2 day\(s\)/)
  })

  it('a failed write step keeps the planned write duration for the retry', async () => {
    const { api } = apiWith({ [RESPOND]: approved })
    const outcome = await approveRequest(
      { request: REQUEST, recordIds: [0], days: 1, writeDuration: 3 * 86400 + 5, keySignature: KEY_SIGNATURE, grantWrite: true },
      { api, signAction: wallet(['approveWrite']) },
    )
    expect(outcome.writeFailure).toMatchObject({ days: 1, duration: 3 * 86400 + 5 })
  })
})

describe('chainNow', () => {
  it("reads the latest block's timestamp (hex), else falls back to the clock", async () => {
    const provider = { request: vi.fn(async () => ({ number: '0x10', timestamp: '0x6b49d200' })) }
    expect(await chainNow(provider, () => 5_000)).toBe(0x6b49d200)
    expect(provider.request).toHaveBeenCalledWith({ method: 'eth_getBlockByNumber', params: ['latest', false] })
    expect(await chainNow(null, () => 5_000_999)).toBe(5_000)
    expect(await chainNow({ request: async () => { throw new Error('no rpc') } }, () => 7_000)).toBe(7)
    expect(await chainNow({ request: async () => null }, () => 9_000)).toBe(9)
  })
})

describe('wording', () => {
  it('names the doctor once with "Dr", or by short address without a profile name', () => {
    expect(doctorTitle('Ada Reader', DOCTOR)).toBe('Dr Ada Reader')
    expect(doctorTitle('Dr. Ada Reader', DOCTOR)).toBe('Dr. Ada Reader')
    expect(doctorTitle('  ', DOCTOR)).toBe('the doctor 0x90f7…b906')
    expect(wantsWriteLine(REQUEST)).toBe('Dr Ada Reader also asks to add records to your file (prescriptions, bills, reports).')
    expect(wantsWriteLine({ doctor: DOCTOR, doctor_name: null })).toMatch(/^The doctor 0x90f7…b906 also asks/)
  })
})

describe("the doctor's approved write asks", () => {
  it('changes only when a request that asked to write turns approved (then the writable vaults refetch)', () => {
    const rows = [
      { id: 'b', state: 'approved' as const, wants_write: true },
      { id: 'a', state: 'approved' as const, wants_write: false },
      { id: 'c', state: 'pending' as const, wants_write: true },
    ]
    expect(approvedWriteAsks(rows)).toBe('b')
    expect(approvedWriteAsks([...rows, { id: 'a2', state: 'approved', wants_write: true }])).toBe('a2,b')
    expect(approvedWriteAsks(rows.filter((r) => r.id !== 'b'))).toBe('')
  })
})
