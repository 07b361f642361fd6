import { describe, expect, it } from 'vitest'
import { fakeJwt } from '../test/fakes'
import { jwtClaims, jwtExpiresSoon, jwtExpiry } from './jwt'

describe('jwt helpers', () => {
  it('reads claims and expiry', () => {
    const token = fakeJwt({ sub: '0xabc', exp: 1_700_000_000, role: 'patient', note: 'ünïcode' })
    expect(jwtClaims(token)).toMatchObject({ sub: '0xabc', role: 'patient', note: 'ünïcode' })
    expect(jwtExpiry(token)).toBe(1_700_000_000_000)
  })

  it('knows when a token is about to lapse', () => {
    const now = 1_700_000_000_000
    expect(jwtExpiresSoon(fakeJwt({ exp: now / 1000 + 10 }), 30_000, now)).toBe(true)
    expect(jwtExpiresSoon(fakeJwt({ exp: now / 1000 + 300 }), 30_000, now)).toBe(false)
    expect(jwtExpiresSoon('not-a-jwt', 30_000, now)).toBe(false)
    expect(jwtExpiry('a.!!!.c')).toBeNull()
  })
})
