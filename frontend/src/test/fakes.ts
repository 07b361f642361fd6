// Helpers shared by the unit tests.
import { ApiClient } from '../api/client'
import { createApi } from '../api/endpoints'

/** An unsigned JWT-shaped token with the given claims (the client only reads `exp`). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  return `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}.c2ln`
}

/** A JSON answer for `fakeApi` routes. */
export const jsonResponse = (body: unknown, status = 200) => () =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

/** A backend error answer (`{"error": {"code", "message"}}`) for `fakeApi` routes. */
export const errorResponse = (status: number, code: string, message = code) => jsonResponse({ error: { code, message } }, status)

export interface SeenRequest {
  method: string
  path: string
  body: unknown
}

/**
 * The real typed API (`createApi` over an `ApiClient`) whose fetch answers from a table of
 * `METHOD /path` -> Response; unknown routes answer 404 `not_found`. `seen` lists every request.
 */
export function fakeApi(routes: Record<string, () => Response>) {
  const seen: SeenRequest[] = []
  const fetch = (async (request: Request) => {
    const url = new URL(request.url)
    const text = request.body ? await request.text() : ''
    seen.push({ method: request.method, path: url.pathname, body: text ? JSON.parse(text) : null })
    const answer = routes[`${request.method} ${url.pathname}`]
    return answer ? answer() : errorResponse(404, 'not_found', 'no route')()
  }) as typeof globalThis.fetch
  return { api: createApi(new ApiClient({ baseUrl: 'http://app.test', fetch })), seen }
}

export interface FakeWallet {
  request(args: { method: string; params?: unknown }): Promise<unknown>
  /** Every request, in order. */
  calls: { method: string; params: unknown }[]
  /** The next request of `method` fails as a person's "Reject" does (EIP-1193 code 4001). */
  declineNext(method: string): void
}

/** An EIP-1193 wallet on `chainId` that signs everything with fixed fake signatures. */
export function fakeWallet({ chainId = 31337 } = {}): FakeWallet {
  const declined = new Set<string>()
  const calls: FakeWallet['calls'] = []
  return {
    calls,
    declineNext: (method) => declined.add(method),
    async request({ method, params }) {
      calls.push({ method, params })
      if (declined.delete(method)) throw Object.assign(new Error('User rejected the request.'), { code: 4001 })
      switch (method) {
        case 'eth_chainId':
          return `0x${chainId.toString(16)}`
        case 'personal_sign':
          return `0x${'ab'.repeat(65)}`
        case 'eth_signTypedData_v4':
          return `0x${'cd'.repeat(65)}`
        default:
          throw Object.assign(new Error(`unsupported ${method}`), { code: 4200 })
      }
    },
  }
}
