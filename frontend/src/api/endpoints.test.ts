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
          },
        }),
    })
    expect((await api.audit.all(2, 50)).pages).toBe(2)
    const file = await api.records.view('cid-a', '0xsig')
    expect(await file.blob.text()).toBe('hello')
    expect(file).toMatchObject({ contentType: 'text/plain', filename: 'blood test.txt', integrityVerified: true, blockchainVerified: true, sha256: 'abc' })
    expect(seen.at(-1)?.headers.get('x-wallet-signature')).toBe('0xsig')
  })

  it('turns a missing optional endpoint into an empty config, and any other refusal into an ApiError', async () => {
    const { api } = apiWith({})
    expect(await api.system.config()).toEqual({})
    await expect(api.records.patientRecords()).rejects.toBeInstanceOf(ApiError)
  })
})
