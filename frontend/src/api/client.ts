/**
 * The HTTP client: JSON requests with a bearer token, refresh-token rotation, error parsing, and
 * multipart uploads with progress (XMLHttpRequest, since fetch reports no upload progress).
 *
 * Refresh tokens work once: the server swaps each for a new pair. Concurrent requests that meet a 401
 * therefore share a single in-flight refresh, and a refresh that fails ends the session.
 */
import { jwtExpiresSoon } from '../lib/jwt'
import { ApiError, NetworkError, parseErrorBody } from './errors'
import type { Role, TokenResponse } from './types'

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

export interface RequestOptions {
  method?: string
  json?: unknown
  body?: BodyInit
  headers?: Record<string, string>
  /** Send the access token (default true). */
  auth?: boolean
  signal?: AbortSignal
}

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

function toSession(tokens: TokenResponse): Session {
  return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, role: tokens.role, address: tokens.address }
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text()
  if (!text) return null
  const type = response.headers.get('content-type') ?? ''
  if (type.includes('json')) {
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  return text
}

export class ApiClient {
  readonly baseUrl: string
  private readonly fetchImpl: typeof fetch
  private readonly store: SessionStore
  private readonly refreshMarginMs: number
  private current: Session | null
  private refreshing: Promise<boolean> | null = null
  private listeners = new Set<Listener>()

  constructor(options: ApiClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/$/, '')
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.store = options.store ?? memoryStore()
    this.refreshMarginMs = options.refreshMarginMs ?? 30_000
    this.current = this.store.load()
  }

  get session(): Session | null {
    return this.current
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  setTokens(tokens: TokenResponse): Session {
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
        const response = await this.fetchImpl(this.url('/api/auth/refresh'), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ refresh_token: session.refreshToken }),
        })
        if (!response.ok) {
          // Only end the session if nobody replaced it meanwhile (for example a new sign-in).
          if (this.current === session) this.signOut('Your session has expired. Please sign in again.')
          return false
        }
        const tokens = (await response.json()) as TokenResponse
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

  private async send(path: string, options: RequestOptions, token: string | null): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers }
    let body = options.body
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(options.json)
    }
    if (token) headers.Authorization = `Bearer ${token}`
    try {
      return await this.fetchImpl(this.url(path), { method: options.method ?? (body ? 'POST' : 'GET'), headers, body, signal: options.signal })
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') throw error
      throw new NetworkError()
    }
  }

  /** Send a request; on 401 refresh once and retry. Returns the raw Response when it is 2xx. */
  async fetchRaw(path: string, options: RequestOptions = {}): Promise<Response> {
    const auth = options.auth ?? true
    const token = auth ? await this.accessToken() : null
    let response = await this.send(path, options, token)
    if (response.status === 401 && auth && this.current) {
      const refreshed = await this.refresh()
      if (refreshed && this.current) response = await this.send(path, options, this.current.accessToken)
    }
    if (!response.ok) throw parseErrorBody(response.status, await readBody(response))
    return response
  }

  /** JSON in, JSON out. */
  async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.fetchRaw(path, options)
    return (await readBody(response)) as T
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

export function isApiError(error: unknown, status?: number): error is ApiError {
  return error instanceof ApiError && (status === undefined || error.status === status)
}
