import { describe, expect, it } from 'vitest'
import { signingDetails, splitSigningExplain } from './plainSigning'

describe('splitSigningExplain', () => {
  it('takes the EIP-712 type name out and fixes the article', () => {
    const { plain, types } = splitSigningExplain('Signs a “RevokeAccess” instruction (EIP-712) for this doctor.')
    expect(plain).toBe('Signs an instruction for this doctor.')
    expect(types).toEqual(['RevokeAccess'])
  })

  it('keeps "a" before a consonant and handles a colon after the marker', () => {
    const { plain, types } = splitSigningExplain('Signs an “ApproveRecords” authorisation (EIP-712): this doctor may read.')
    expect(plain).toBe('Signs an authorisation: this doctor may read.')
    expect(types).toEqual(['ApproveRecords'])
    expect(splitSigningExplain('Signs a “DenyAccess” answer (EIP-712).').plain).toBe('Signs an answer.')
    expect(splitSigningExplain('Signs a “RequestAccess” message (EIP-712).').plain).toBe('Signs a message.')
  })

  it('works without an article and with several names', () => {
    const { plain, types } = splitSigningExplain('One “AddRecord” authorisation (EIP-712) and then “ApproveWrite” authorisation (EIP-712).')
    expect(plain).toBe('One authorisation and then authorisation.')
    expect(types).toEqual(['AddRecord', 'ApproveWrite'])
  })

  it('leaves plain text alone', () => {
    expect(splitSigningExplain('Your wallet signs a fixed text.')).toEqual({ plain: 'Your wallet signs a fixed text.', types: [] })
  })
})

describe('signingDetails', () => {
  it('names each type', () => {
    expect(signingDetails(['RevokeAccess'])).toContain('EIP-712 typed-data signature of type “RevokeAccess”')
  })
})
