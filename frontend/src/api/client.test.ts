import { describe, expect, it, vi } from 'vitest'
import { fakeJwt } from '../test/fakes'
import { ApiClient, memoryStore, unwrap } from './client'
import { ApiError, NetworkError } from './errors'

// openapi-fetch sends Request objects, which need an absolute URL outside a browser.
const BASE = 'http://app.test'

/** A call through the typed client to any path (the generated paths are checked elsewhere: the build). */
function request(client: ApiClient, path: string, { auth = true } = {}): Promise<unknown> {
  return unwrap((auth ? client.http : client.publicHttp).GET(path as never))
}

/** The path, bearer header and body of what the client handed to fetch. */
async function sent(input: string | URL | Request) {
  const req = input instanceof Request ? input : new Request(new URL(String(input), BASE))
  return { path: new URL(req.url).pathname, auth: req.headers.get('authorization'), body: await req.clone().text() }
}

const FUTURE = Math.floor(Date.now() / 1000) + 3600

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

function tokens(n: number) {
  return { access_token: fakeJwt({ exp: FUTURE, n }), refresh_token: `refresh-${n}`, role: 'patient' as const, address: '0xAbC' }
}

describe('ApiClient', () => {
  it('sends the bearer token and parses JSON, keeping the session in its store', async () => {
    const fetch = vi.fn(async (input: string | URL | Request) => json(200, { auth: (await sent(input)).auth }))
    const store = memoryStore()
    const client = new ApiClient({ baseUrl: BASE, fetch: fetch as typeof globalThis.fetch, store })
    client.setTokens(tokens(1))
    expect(await request(client, '/api/x')).toEqual({ auth: `Bearer ${tokens(1).access_token}` })
    expect(store.load()?.refreshToken).toBe('refresh-1')
    expect(new ApiClient({ store }).session?.address).toBe('0xAbC')
    client.signOut()
    expect(store.load()).toBeNull()
  })

  it('on 401 refreshes once, rotates the refresh token and retries', async () => {
    let generation = 1
    const paths: string[] = []
    const fetch = vi.fn(async (input: string | URL | Request) => {
      const { path, auth, body } = await sent(input)
      paths.push(path)
      if (path === '/api/auth/refresh') {
        expect(JSON.parse(body).refresh_token).toBe(`refresh-${generation}`)
        generation++
        return json(200, tokens(generation))
      }
      return auth === `Bearer ${tokens(2).access_token}` ? json(200, { ok: path }) : json(401, { error: { code: 'invalid_token', message: 'expired' } })
    })
    const client = new ApiClient({ baseUrl: BASE, fetch: fetch as typeof globalThis.fetch })
    client.setTokens(tokens(1))
    const results = await Promise.all([request(client, '/api/a'), request(client, '/api/b'), request(client, '/api/c')])
    expect(results).toEqual([{ ok: '/api/a' }, { ok: '/api/b' }, { ok: '/api/c' }])
    // Three 401s shared one refresh: the single-use refresh token was spent exactly once.
    expect(paths.filter((p) => p === '/api/auth/refresh')).toHaveLength(1)
    expect(client.session?.refreshToken).toBe('refresh-2')
  })

  it('ends the session when the refresh token is refused', async () => {
    const fetch = vi.fn(async (input: string | URL | Request) =>
      (await sent(input)).path === '/api/auth/refresh'
        ? json(401, { error: { code: 'invalid_token', message: 'refresh token rejected: already used' } })
        : json(401, { error: { code: 'invalid_token', message: 'access token rejected: expired' } }),
    )
    const client = new ApiClient({ baseUrl: BASE, fetch: fetch as typeof globalThis.fetch })
    client.setTokens(tokens(1))
    const reasons: (string | undefined)[] = []
    client.subscribe((session, reason) => !session && reasons.push(reason))
    const error = await request(client, '/api/x').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).status).toBe(401)
    expect(client.session).toBeNull()
    expect(reasons[0]).toMatch(/expired/)
  })

  it('refreshes ahead of time when the access token is about to expire', async () => {
    const paths: string[] = []
    const fetch = vi.fn(async (input: string | URL | Request) => {
      const { path } = await sent(input)
      paths.push(path)
      return path === '/api/auth/refresh' ? json(200, tokens(2)) : json(200, {})
    })
    const client = new ApiClient({ baseUrl: BASE, fetch: fetch as typeof globalThis.fetch })
    client.setTokens({ ...tokens(1), access_token: fakeJwt({ exp: Math.floor(Date.now() / 1000) + 5 }) })
    await request(client, '/api/x')
    expect(paths).toEqual(['/api/auth/refresh', '/api/x'])
  })

  it('turns error bodies into ApiError and network failures into NetworkError', async () => {
    const client = new ApiClient({
      baseUrl: BASE,
      fetch: (async (input: Request) => {
        if ((await sent(input)).path === '/api/down') throw new TypeError('fetch failed')
        return json(403, { error: { code: 'wrong_role', message: 'this endpoint is for patient accounts' } })
      }) as typeof fetch,
    })
    await expect(request(client, '/api/forbidden', { auth: false })).rejects.toMatchObject({ status: 403, code: 'wrong_role' })
    await expect(request(client, '/api/down', { auth: false })).rejects.toBeInstanceOf(NetworkError)
  })
})
