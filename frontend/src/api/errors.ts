/**
 * Errors from the API and the wallet, turned into messages a person can act on.
 *
 * The backend answers every failure with `{"error": {"code", "message", ...details}}`. Proxies, the
 * dev server and older endpoints may answer otherwise (FastAPI's `{"detail": ...}`, HTML, nothing),
 * so the parser accepts those too and always yields an `ApiError` with a status, code and message.
 */

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly details: Record<string, unknown>

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.details = details
  }

  /** The endpoint does not exist on this server (yet): screens show "not available" instead of failing. */
  get isNotAvailable(): boolean {
    return this.status === 404 && this.code === 'not_found'
  }
}

/** The request never got an HTTP answer (server down, offline, CORS). */
export class NetworkError extends Error {
  constructor(message = 'The HealthLedger service could not be reached. Check that it is running and try again.') {
    super(message)
    this.name = 'NetworkError'
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'The request was not accepted',
  401: 'You are not signed in, or your session has expired',
  403: 'You are not allowed to do this',
  404: 'Not found',
  409: 'Integrity check failed',
  413: 'The file is too large',
  422: 'Some fields are invalid',
  429: 'Too many requests; wait a moment and try again',
  500: 'The server had an internal error',
  502: 'The service behind the server is not answering',
  503: 'The service is temporarily unavailable',
  504: 'The server timed out',
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function detailToMessage(detail: unknown): string | undefined {
  if (typeof detail === 'string') return detail
  if (Array.isArray(detail)) {
    const parts = detail
      .map((item) => {
        if (!isRecord(item)) return String(item)
        const loc = Array.isArray(item.loc) ? item.loc.filter((p) => !['body', 'query', 'header', 'path'].includes(String(p))).join('.') : ''
        const msg = typeof item.msg === 'string' ? item.msg : JSON.stringify(item)
        return loc ? `${loc}: ${msg}` : msg
      })
      .filter(Boolean)
    return parts.length ? parts.join('; ') : undefined
  }
  return undefined
}

/**
 * Build an ApiError from a status and a response body (parsed JSON, raw text, or nothing).
 * Pure: the unit tests cover every shape.
 */
export function parseErrorBody(status: number, body: unknown): ApiError {
  let parsed: unknown = body
  if (typeof body === 'string') {
    const text = body.trim()
    if (text.startsWith('{') || text.startsWith('[')) {
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = text
      }
    } else {
      parsed = text
    }
  }
  if (isRecord(parsed) && isRecord(parsed.error)) {
    const { code, message, ...details } = parsed.error
    return new ApiError(
      status,
      typeof code === 'string' && code ? code : `http_${status}`,
      typeof message === 'string' && message ? message : STATUS_TEXT[status] ?? `HTTP ${status}`,
      details,
    )
  }
  if (isRecord(parsed) && 'detail' in parsed) {
    const message = detailToMessage(parsed.detail)
    return new ApiError(status, status === 404 ? 'not_found' : `http_${status}`, message ?? STATUS_TEXT[status] ?? `HTTP ${status}`)
  }
  // Text bodies: keep short plain text, never dump an HTML page into the UI.
  const text = typeof parsed === 'string' && parsed && !parsed.startsWith('<') && parsed.length <= 300 ? parsed : ''
  return new ApiError(status, status === 404 ? 'not_found' : `http_${status}`, text || STATUS_TEXT[status] || `HTTP ${status}`)
}

/** The EIP-1193 error codes a wallet can answer with. */
export const WALLET_ERRORS = {
  userRejected: 4001,
  unauthorized: 4100,
  unsupportedMethod: 4200,
  disconnected: 4900,
  chainDisconnected: 4901,
  unknownChain: 4902,
  requestPending: -32002,
} as const

/** Every numeric code on a wallet error and the errors it wraps (`cause`, `data.originalError`). */
export function walletErrorCodes(error: unknown): number[] {
  const codes: number[] = []
  let current: unknown = error
  for (let depth = 0; depth < 5 && isRecord(current); depth++) {
    if (typeof current.code === 'number') codes.push(current.code)
    const data = isRecord(current.data) ? current.data : undefined
    current = current.cause ?? data?.originalError
  }
  return codes
}

/**
 * The code that says what happened: a known EIP-1193 code anywhere in the chain (MetaMask mobile
 * wraps 4902 inside a -32603), else the outermost code.
 */
export function walletErrorCode(error: unknown): number | undefined {
  const codes = walletErrorCodes(error)
  const known = new Set<number>(Object.values(WALLET_ERRORS))
  return codes.find((code) => known.has(code)) ?? codes[0]
}

/**
 * Refusals about encryption keys (keys v2): the server's message names the account and what to do,
 * and the 409 lead ("Integrity check failed") would mislead, so they read as the message alone.
 */
const KEY_CODES = new Set(['patient_key_missing', 'doctor_key_missing', 'key_binding_invalid', 'key_not_found'])

/** One sentence for any error the app can meet: API, network, wallet or programming. */
export function readableError(error: unknown): string {
  if (error instanceof ApiError) {
    if (KEY_CODES.has(error.code)) return error.message
    const lead = STATUS_TEXT[error.status]
    if (error.isNotAvailable) return 'This feature is not available on this server yet.'
    return lead && error.message !== lead ? `${lead}: ${error.message}` : error.message
  }
  if (error instanceof NetworkError) return error.message
  if (error instanceof DOMException && error.name === 'AbortError') return 'Cancelled.'
  switch (walletErrorCode(error)) {
    case WALLET_ERRORS.userRejected:
      return 'You declined the request in your wallet. Nothing was signed or sent.'
    case WALLET_ERRORS.unauthorized:
      return 'Your wallet has not authorised this site for that account. Connect the account first.'
    case WALLET_ERRORS.unsupportedMethod:
      return 'Your wallet does not support this request.'
    case WALLET_ERRORS.disconnected:
    case WALLET_ERRORS.chainDisconnected:
      return 'Your wallet is disconnected from the network.'
    case WALLET_ERRORS.unknownChain:
      return 'Your wallet does not know this network yet.'
    case WALLET_ERRORS.requestPending:
      return 'Your wallet already has a request waiting: open it and answer that one first.'
  }
  if (error instanceof Error && error.message) return error.message
  if (isRecord(error) && typeof error.message === 'string') return error.message
  return 'Something went wrong.'
}
