import { describe, expect, it } from 'vitest'
import { ApiError, NetworkError, parseErrorBody, readableError, walletErrorCode } from './errors'

describe('parseErrorBody', () => {
  it('reads the backend shape, keeping extra details', () => {
    const error = parseErrorBody(409, { error: { code: 'integrity_mismatch', message: 'file hash differs from the chain', mismatched: ['blockchain'] } })
    expect(error).toBeInstanceOf(ApiError)
    expect(error.status).toBe(409)
    expect(error.code).toBe('integrity_mismatch')
    expect(error.message).toBe('file hash differs from the chain')
    expect(error.details).toEqual({ mismatched: ['blockchain'] })
  })

  it('parses a JSON string body', () => {
    const error = parseErrorBody(401, '{"error": {"code": "invalid_token", "message": "access token rejected: expired"}}')
    expect(error.code).toBe('invalid_token')
    expect(readableError(error)).toBe('You are not signed in, or your session has expired: access token rejected: expired')
  })

  it("reads FastAPI's detail shapes", () => {
    expect(parseErrorBody(400, { detail: 'bad thing' }).message).toBe('bad thing')
    const validation = parseErrorBody(422, { detail: [{ loc: ['body', 'nonce'], msg: 'field required' }, { loc: ['query', 'q'], msg: 'too short' }] })
    expect(validation.message).toBe('nonce: field required; q: too short')
  })

  it('falls back to the status for HTML, empty and odd bodies', () => {
    expect(parseErrorBody(502, '<html><body>Bad gateway</body></html>').message).toBe('The service behind the server is not answering')
    expect(parseErrorBody(500, null).message).toBe('The server had an internal error')
    expect(parseErrorBody(418, '').message).toBe('HTTP 418')
    expect(parseErrorBody(400, 'plain words').message).toBe('plain words')
    expect(parseErrorBody(400, '{not json').message).toBe('{not json')
    expect(parseErrorBody(400, { error: { message: 42 } }).code).toBe('http_400')
  })

  it('marks missing endpoints, and only those, as not available', () => {
    const missing = parseErrorBody(404, { error: { code: 'not_found', message: 'Not Found' } })
    expect(missing.isNotAvailable).toBe(true)
    expect(readableError(missing)).toBe('This feature is not available on this server yet.')
    expect(parseErrorBody(404, 'Not Found').isNotAvailable).toBe(true)
    const noRecord = parseErrorBody(404, { error: { code: 'record_not_found', message: 'no record with this CID' } })
    expect(noRecord.isNotAvailable).toBe(false)
    expect(readableError(noRecord)).toBe('Not found: no record with this CID')
  })
})

describe('readableError', () => {
  it('explains wallet errors, also when wrapped', () => {
    expect(readableError({ code: 4001, message: 'User rejected the request.' })).toMatch(/declined/)
    expect(walletErrorCode({ code: -32603, data: { originalError: { code: 4902 } } })).toBe(4902)
    expect(walletErrorCode({ code: -32603, message: 'internal' })).toBe(-32603)
    expect(walletErrorCode({ cause: { code: 4902 } })).toBe(4902)
    expect(readableError({ cause: { code: -32002 } })).toMatch(/already has a request/)
  })

  it('keeps messages of other errors', () => {
    expect(readableError(new NetworkError())).toMatch(/could not be reached/)
    expect(readableError(new Error('boom'))).toBe('boom')
    expect(readableError(undefined)).toBe('Something went wrong.')
    expect(readableError(new ApiError(400, 'invalid_name', 'The request was not accepted'))).toBe('The request was not accepted')
  })
})

describe('key refusals (keys v2)', () => {
  it("read as the server's message, without the misleading 409 lead", () => {
    const missing = parseErrorBody(409, { error: { code: 'doctor_key_missing', message: 'Dr X has not set up an encryption key yet.' } })
    expect(readableError(missing)).toBe('Dr X has not set up an encryption key yet.')
    const mismatch = parseErrorBody(409, { error: { code: 'integrity_mismatch', message: 'file hash differs' } })
    expect(readableError(mismatch)).toBe('Integrity check failed: file hash differs')
  })
})
