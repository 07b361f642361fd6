/**
 * EIP-4361 (Sign-In with Ethereum) message formatting.
 *
 * The backend parses the message with a strict ABNF parser, so the layout here follows the EIP to the
 * character: the address must be EIP-55 checksummed, the statement is one line, times are RFC 3339.
 */
import { getAddress } from 'viem'

export interface SiweFields {
  domain: string
  address: string
  statement?: string
  uri: string
  version?: '1'
  chainId: number
  nonce: string
  issuedAt: Date | string
  expirationTime?: Date | string
  notBefore?: Date | string
  requestId?: string
  resources?: string[]
}

/** The nonce endpoint's answer (`GET /api/auth/nonce`). */
export interface NonceInfo {
  nonce: string
  expires_at: string
  domain: string
  uri: string
  chain_id: number
  statement: string
}

function rfc3339(value: Date | string): string {
  const date = typeof value === 'string' ? new Date(value) : value
  if (Number.isNaN(date.getTime())) throw new Error(`not a valid time: ${String(value)}`)
  return date.toISOString()
}

export function formatSiweMessage(fields: SiweFields): string {
  if (!fields.domain || /\s/.test(fields.domain)) throw new Error('SIWE domain must be a host[:port] without spaces')
  if (!/^[A-Za-z0-9]{8,}$/.test(fields.nonce)) throw new Error('SIWE nonce must be at least 8 alphanumeric characters')
  if (!Number.isInteger(fields.chainId) || fields.chainId <= 0) throw new Error('SIWE chain id must be a positive integer')
  const statement = fields.statement?.trim()
  if (statement && statement.includes('\n')) throw new Error('SIWE statement must be a single line')

  const lines = [`${fields.domain} wants you to sign in with your Ethereum account:`, getAddress(fields.address), '']
  // With a statement: blank line, statement, blank line. Without: exactly one blank line.
  if (statement) lines.push(statement, '')
  lines.push(
    `URI: ${fields.uri}`,
    `Version: ${fields.version ?? '1'}`,
    `Chain ID: ${fields.chainId}`,
    `Nonce: ${fields.nonce}`,
    `Issued At: ${rfc3339(fields.issuedAt)}`,
  )
  if (fields.expirationTime !== undefined) lines.push(`Expiration Time: ${rfc3339(fields.expirationTime)}`)
  if (fields.notBefore !== undefined) lines.push(`Not Before: ${rfc3339(fields.notBefore)}`)
  if (fields.requestId !== undefined) lines.push(`Request ID: ${fields.requestId}`)
  if (fields.resources?.length) {
    lines.push('Resources:')
    for (const resource of fields.resources) lines.push(`- ${resource}`)
  }
  return lines.join('\n')
}

/** The sign-in message for `address` built from the backend's nonce answer. */
export function siweMessageFromNonce(info: NonceInfo, address: string, now: Date = new Date()): string {
  return formatSiweMessage({
    domain: info.domain,
    address,
    statement: info.statement,
    uri: info.uri,
    chainId: info.chain_id,
    nonce: info.nonce,
    issuedAt: now,
    expirationTime: info.expires_at,
  })
}
