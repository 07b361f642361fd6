// Helpers shared by the unit tests.

/** An unsigned JWT-shaped token with the given claims (the client only reads `exp`). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  return `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}.c2ln`
}
