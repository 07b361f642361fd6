/**
 * The HTTP client: typed calls through openapi-fetch (paths and bodies from the generated OpenAPI
 * types), a middleware that adds the bearer token and refreshes it, error parsing, and multipart
 * uploads with progress (XMLHttpRequest, since fetch reports no upload progress).
 *
 * Refresh tokens work once: the server swaps each for a new pair. Concurrent requests that meet a 401
 * therefore share a single in-flight refresh, and a refresh that fails ends the session.
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch'
import { jwtExpiresSoon } from '../lib/jwt'
import { NetworkError, parseErrorBody } from './errors'
import type { paths, Role, TokenResponse } from './types'

export interface Session {
  accessToken: string
  refreshToken: string
  role: Role
  address: string
}

/** Where the session lives between page loads. The key-derivation signature is never stored here. */
export interface SessionStore {
  load(): Session | null
  save(session: Session): void
  clear(): void
}

export const memoryStore = (): SessionStore => {
  let value: Session | null = null
  return {
    load: () => value,
    save: (session) => {
      value = session
    },
    clear: () => {
      value = null
    },
  }
}

/** Tab-scoped storage: survives a reload of this tab, gone when the tab closes. */
export const sessionStorageStore = (key = 'healthledger.session'): SessionStore => ({
  load() {
    try {
      const raw = globalThis.sessionStorage?.getItem(key)
      if (!raw) return null
      const value = JSON.parse(raw) as Session
      return value.accessToken && value.refreshToken && value.address ? value : null
    } catch {
      return null
    }
  },
  save(session) {
    try {
      globalThis.sessionStorage?.setItem(key, JSON.stringify(session))
    } catch {
      /* storage disabled: the session lives in memory only */
    }
  },
  clear() {
    try {
      globalThis.sessionStorage?.removeItem(key)
    } catch {
      /* nothing stored */
    }
  },
})

export interface UploadProgress {
  phase: 'uploading' | 'processing'
  loaded: number
  total: number
}

export interface UploadResult<T> {
  status: number
  body: T
}

type Listener = (session: Session | null, reason?: string) => void

export interface ApiClientOptions {
  baseUrl?: string
  fetch?: typeof fetch
  store?: SessionStore
  /** Refresh when the access token has less than this left (ms). */
  refreshMarginMs?: number
}

/** What a session is made of (the sign-in and refresh answers carry more). */
type Tokens = Pick<TokenResponse, 'access_token' | 'refresh_token' | 'role' | 'address'>

function toSession(tokens: Tokens): Session {
  return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, role: tokens.role, address: tokens.address }
}

/** The typed client for the API's paths (see `schema.gen.ts`). */
export type Http = Client<paths>

/**
 * The body of a 2xx answer; anything else becomes an `ApiError` parsed from the error body
 * (`{"error": {"code", "message"}}`, FastAPI's `{"detail"}`, text or nothing).
 */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call
  if (!response.ok) throw parseErrorBody(response.status, error ?? null)
  return data as T
}

export class ApiClient {
  readonly baseUrl: string
  private readonly fetchImpl: typeof fetch
  private readonly store: SessionStore
  private readonly refreshMarginMs: number
  private current: Session | null
  private refreshing: Promise<boolean> | null = null
  private listeners = new Set<Listener>()

  /** Calls that carry the access token (refreshed ahead of time, and once more after a 401). */
  readonly http: Http
  /** Calls that must not: sign-in, refresh, public configuration and status. */
  readonly publicHttp: Http

  constructor(options: ApiClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/$/, '')
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.store = options.store ?? memoryStore()
    this.refreshMarginMs = options.refreshMarginMs ?? 30_000
    this.current = this.store.load()
    const fetch = (request: Request) => this.send(request)
    this.publicHttp = createClient<paths>({ baseUrl: this.baseUrl, fetch, headers: { Accept: 'application/json' } })
    this.http = createClient<paths>({ baseUrl: this.baseUrl, fetch, headers: { Accept: 'application/json' } })
    this.http.use(this.bearer())
  }

  get session(): Session | null {
    return this.current
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  setTokens(tokens: Tokens): Session {
    const session = toSession(tokens)
    this.current = session
    this.store.save(session)
    this.emit(undefined)
    return session
  }

  signOut(reason?: string): void {
    const had = this.current !== null
    this.current = null
    this.store.clear()
    if (had) this.emit(reason)
  }

  private emit(reason: string | undefined): void {
    for (const listener of this.listeners) listener(this.current, reason)
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`
  }

  /** Trade the refresh token for a new pair; concurrent callers share one attempt. */
  refresh(): Promise<boolean> {
    if (this.refreshing) return this.refreshing
    const session = this.current
    if (!session) return Promise.resolve(false)
    this.refreshing = (async () => {
      try {
        const { data: tokens, response } = await this.publicHttp.POST('/api/auth/refresh', { body: { refresh_token: session.refreshToken } })
        if (!response.ok || !tokens) {
          // Only end the session if nobody replaced it meanwhile (for example a new sign-in).
          if (this.current === session) this.signOut('Your session has expired. Please sign in again.')
          return false
        }
        if (this.current !== session) return this.current !== null
        this.setTokens(tokens)
        return true
      } catch {
        return false // network trouble: keep the session, the caller reports the failure
      } finally {
        this.refreshing = null
      }
    })()
    return this.refreshing
  }

  /** An access token with some life left, refreshing first when it is about to lapse. */
  async accessToken(): Promise<string | null> {
    if (!this.current) return null
    if (jwtExpiresSoon(this.current.accessToken, this.refreshMarginMs)) await this.refresh()
    return this.current?.accessToken ?? null
  }

  /** Every request leaves through here: a fetch that never answered becomes a `NetworkError`. */
  private async send(request: Request): Promise<Response> {
    try {
      return await this.fetchImpl(request)
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') throw error
      throw new NetworkError()
    }
  }

  /**
   * The openapi-fetch middleware for signed-in calls: a fresh access token on the way out; on a 401,
   * one shared refresh and one retry of a copy of the request taken before it was sent.
   */
  private bearer(): Middleware {
    const copies = new Map<string, Request>()
    return {
      onRequest: async ({ request, id }) => {
        const token = await this.accessToken()
        if (token) request.headers.set('Authorization', `Bearer ${token}`)
        if (this.current) copies.set(id, request.clone())
        return request
      },
      onResponse: async ({ response, id }) => {
        const copy = copies.get(id)
        copies.delete(id)
        if (response.status !== 401 || !copy || !this.current) return response
        if (!(await this.refresh()) || !this.current) return response
        copy.headers.set('Authorization', `Bearer ${this.current.accessToken}`)
        return this.send(copy)
      },
      onError: ({ id }) => {
        copies.delete(id)
      },
    }
  }

  /**
   * Multipart POST with upload progress. `onProgress` reports bytes sent, then `processing` once the
   * body is fully sent and the server is working (encrypting, pinning, waiting for the transaction).
   */
  async upload<T>(
    path: string,
    form: FormData,
    onProgress?: (progress: UploadProgress) => void,
    signal?: AbortSignal,
  ): Promise<UploadResult<T>> {
    const attempt = (token: string | null) =>
      new Promise<{ status: number; text: string; type: string }>((resolve, reject) => {
        const xhr = new XMLHttpRequest()
        xhr.open('POST', this.url(path))
        xhr.setRequestHeader('Accept', 'application/json')
        if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
        xhr.upload.onprogress = (event) => {
          onProgress?.({ phase: 'uploading', loaded: event.loaded, total: event.lengthComputable ? event.total : 0 })
        }
        xhr.upload.onload = () => {
          onProgress?.({ phase: 'processing', loaded: 1, total: 1 })
        }
        xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText, type: xhr.getResponseHeader('content-type') ?? '' })
        xhr.onerror = () => reject(new NetworkError('The upload was interrupted: the service could not be reached.'))
        xhr.onabort = () => reject(new DOMException('upload cancelled', 'AbortError'))
        signal?.addEventListener('abort', () => xhr.abort(), { once: true })
        xhr.send(form)
      })
    let result = await attempt(await this.accessToken())
    // A 401 is raised before the server looks at the signatures, so retrying after a refresh is safe.
    if (result.status === 401 && this.current && (await this.refresh())) result = await attempt(this.current?.accessToken ?? null)
    let body: unknown = result.text
    if (result.type.includes('json')) {
      try {
        body = JSON.parse(result.text)
      } catch {
        /* keep text */
      }
    }
    if (result.status < 200 || result.status >= 300) throw parseErrorBody(result.status, body)
    return { status: result.status, body: body as T }
  }
}
