import { describe, expect, it } from 'vitest'
import { createBillsApi, isPending } from './bills'
import { ApiClient } from './client'
import { ApiError } from './errors'

const BASE = 'http://app.test'
const ID = '0x' + '1'.repeat(64)
const TX = '0x' + 'a'.repeat(64)

function billsWith(routes: Record<string, (request: Request) => Response | Promise<Response>>) {
  const seen: { method: string; url: string; body: string }[] = []
  const fetch = (async (request: Request) => {
    const url = new URL(request.url)
    seen.push({ method: request.method, url: `${url.pathname}${url.search}`, body: request.method === 'GET' ? '' : await request.clone().text() })
    const answer = routes[`${request.method} ${url.pathname}${url.search}`]
    return answer ? answer(request) : new Response(JSON.stringify({ error: { code: 'not_found', message: 'no route' } }), { status: 404, headers: { 'content-type': 'application/json' } })
  }) as typeof globalThis.fetch
  return { bills: createBillsApi(new ApiClient({ baseUrl: BASE, fetch })), seen }
}

const json = (body: unknown, status = 200) => () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

describe('bills API', () => {
  it('lists by role and reads the list key', async () => {
    const { bills, seen } = billsWith({ 'GET /api/bills?role=issuer': json({ bills: [{ billId: ID }], partial: true }) })
    expect(await bills.list('issuer')).toEqual({ bills: [{ billId: ID }], partial: true })
    expect(seen[0].url).toBe('/api/bills?role=issuer')
  })

  it('tells a mined answer from a pending one (202)', async () => {
    const { bills, seen } = billsWith({
      'POST /api/bills': json({ billId: ID, status: 'open' }, 201),
      [`POST /api/bills/${ID}/cancel`]: json({ status: 'pending', txHash: TX }, 202),
    })
    const issued = await bills.issue({ payload: { domain: {}, types: {}, primaryType: 'IssueBill', message: {} } as never, signature: '0x12' })
    expect(isPending(issued)).toBe(false)
    expect(JSON.parse(seen[0].body)).toMatchObject({ signature: '0x12', payload: { primaryType: 'IssueBill' } })
    const cancelled = await bills.cancel(ID, { payload: {} as never, signature: '0x34' })
    expect(isPending(cancelled) && cancelled.txHash).toBe(TX)
  })

  it('asks for the pay transaction with the amount, and surfaces the API error', async () => {
    const { bills, seen } = billsWith({
      [`GET /api/bills/${ID}/pay/transaction?amount=5`]: json({ to: '0xB', data: '0x', value: '5', chainId: 31337 }),
      [`POST /api/bills/${ID}/pay/typed-data`]: json({ error: { code: 'wrong_payment_method', message: 'This bill is paid in ETH.' } }, 422),
    })
    expect((await bills.payTransaction(ID, '5')).value).toBe('5')
    expect(seen[0].url).toBe(`/api/bills/${ID}/pay/transaction?amount=5`)
    const error = await bills.payTypedData(ID, {}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ status: 422, code: 'wrong_payment_method', message: 'This bill is paid in ETH.' })
  })

  it('reads the FHIR receipt', async () => {
    const { bills } = billsWith({
      [`GET /api/bills/${ID}/receipt`]: () => new Response(JSON.stringify({ resourceType: 'PaymentReconciliation' }), { headers: { 'content-type': 'application/fhir+json' } }),
    })
    expect(await bills.receipt(ID)).toEqual({ resourceType: 'PaymentReconciliation' })
  })
})
