import { describe, expect, it, vi } from 'vitest'
import { fakeJwt } from '../test/fakes'
import { ApiClient, memoryStore } from './client'
import { ApiError, NetworkError } from './errors'

const FUTURE = Math.floor(Date.now() / 1000) + 3600

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

function tokens(n: number) {
  return { access_token: fakeJwt({ exp: FUTURE, n }), refresh_token: `refresh-${n}`, role: 'patient' as const, address: '0xAbC' }
}

describe('ApiClient', () => {
  it('sends the bearer token and parses JSON, keeping the session in its store', async () => {
    const fetch = vi.fn(async (_url: string | URL | Request, init?: RequestInit) =>
      json(200, { auth: new Headers(init?.headers).get('authorization') }),
    )
    const store = memoryStore()
    const client = new ApiClient({ fetch: fetch as typeof globalThis.fetch, store })
    client.setTokens(tokens(1))
    expect(await client.request('/api/x')).toEqual({ auth: `Bearer ${tokens(1).access_token}` })
    expect(store.load()?.refreshToken).toBe('refresh-1')
    expect(new ApiClient({ store }).session?.address).toBe('0xAbC')
    client.signOut()
    expect(store.load()).toBeNull()
  })

  it('on 401 refreshes once, rotates the refresh token and retries', async () => {
    let generation = 1
    const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
      const path = String(url)
      if (path === '/api/auth/refresh') {
        expect(JSON.parse(String(init?.body)).refresh_token).toBe(`refresh-${generation}`)
        generation++
        return json(200, tokens(generation))
      }
      const auth = new Headers(init?.headers).get('authorization')
      return auth === `Bearer ${tokens(2).access_token}` ? json(200, { ok: path }) : json(401, { error: { code: 'invalid_token', message: 'expired' } })
    })
    const client = new ApiClient({ fetch: fetch as typeof globalThis.fetch })
    client.setTokens(tokens(1))
    const results = await Promise.all([client.request('/api/a'), client.request('/api/b'), client.request('/api/c')])
    expect(results).toEqual([{ ok: '/api/a' }, { ok: '/api/b' }, { ok: '/api/c' }])
    // Three 401s shared one refresh: the single-use refresh token was spent exactly once.
    expect(fetch.mock.calls.filter(([u]) => u === '/api/auth/refresh')).toHaveLength(1)
    expect(client.session?.refreshToken).toBe('refresh-2')
  })

  it('ends the session when the refresh token is refused', async () => {
    const fetch = vi.fn(async (url: string | URL | Request) =>
      String(url) === '/api/auth/refresh'
        ? json(401, { error: { code: 'invalid_token', message: 'refresh token rejected: already used' } })
        : json(401, { error: { code: 'invalid_token', message: 'access token rejected: expired' } }),
    )
    const client = new ApiClient({ fetch: fetch as typeof globalThis.fetch })
    client.setTokens(tokens(1))
    const reasons: (string | undefined)[] = []
    client.subscribe((session, reason) => !session && reasons.push(reason))
    const error = await client.request('/api/x').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).status).toBe(401)
    expect(client.session).toBeNull()
    expect(reasons[0]).toMatch(/expired/)
  })

  it('refreshes ahead of time when the access token is about to expire', async () => {
    const fetch = vi.fn(async (url: string | URL | Request) => (String(url) === '/api/auth/refresh' ? json(200, tokens(2)) : json(200, {})))
    const client = new ApiClient({ fetch: fetch as typeof globalThis.fetch })
    client.setTokens({ ...tokens(1), access_token: fakeJwt({ exp: Math.floor(Date.now() / 1000) + 5 }) })
    await client.request('/api/x')
    expect(fetch.mock.calls.map(([u]) => u)).toEqual(['/api/auth/refresh', '/api/x'])
  })

  it('turns error bodies into ApiError and network failures into NetworkError', async () => {
    const client = new ApiClient({
      fetch: (async (url: string) => {
        if (url === '/api/down') throw new TypeError('fetch failed')
        return json(403, { error: { code: 'wrong_role', message: 'this endpoint is for patient accounts' } })
      }) as typeof fetch,
    })
    await expect(client.request('/api/forbidden', { auth: false })).rejects.toMatchObject({ status: 403, code: 'wrong_role' })
    await expect(client.request('/api/down', { auth: false })).rejects.toBeInstanceOf(NetworkError)
  })
})
