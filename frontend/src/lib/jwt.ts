/** Read (not verify) a JWT's claims: the client only needs `exp` to refresh before it lapses. */

function base64UrlDecode(segment: string): string {
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/')
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4)
  const binary = atob(padded)
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0))
  return new TextDecoder().decode(bytes)
}

export function jwtClaims(token: string): Record<string, unknown> | null {
  const parts = token.split('.')
  if (parts.length !== 3) return null
  try {
    const claims: unknown = JSON.parse(base64UrlDecode(parts[1]))
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : null
  } catch {
    return null
  }
}

/** Expiry in milliseconds since the epoch, or null when the token has no readable `exp`. */
export function jwtExpiry(token: string): number | null {
  const exp = jwtClaims(token)?.exp
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null
}

/** True when the token expires within `marginMs` (unknown expiry counts as fresh: the server decides). */
export function jwtExpiresSoon(token: string, marginMs = 30_000, now = Date.now()): boolean {
  const expiry = jwtExpiry(token)
  return expiry !== null && expiry - now <= marginMs
}
