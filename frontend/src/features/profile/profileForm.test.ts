import { describe, expect, it } from 'vitest'
import { normalName, profileProblem } from './profileForm'

describe('normalName', () => {
  it('trims and collapses blanks like the API', () => {
    expect(normalName('  Ana   María\tLópez ')).toBe('Ana María López')
    expect(normalName('   ')).toBe('')
  })
})

describe('profileProblem', () => {
  it('needs a name to publish', () => {
    expect(profileProblem('  ', true)).toMatch(/Enter a name/)
    expect(profileProblem('', false)).toBeNull()
    expect(profileProblem('Ana López', true)).toBeNull()
  })

  it('limits the length after collapsing blanks', () => {
    expect(profileProblem('a'.repeat(100), true)).toBeNull()
    expect(profileProblem('a'.repeat(101), true)).toMatch(/at most 100/)
    expect(profileProblem(`${'a'.repeat(50)}     ${'b'.repeat(49)}`, true)).toBeNull()
  })

  it('refuses control characters', () => {
    expect(profileProblem('Ana\u0007', true)).toMatch(/control/)
  })
})
