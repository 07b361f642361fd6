import { describe, expect, it } from 'vitest'
import { addedBy } from './format'

describe('addedBy', () => {
  const DOCTOR = '0x90f79bf6eb2c4f870365e785982e1f101e93b906'
  it('names the authoring doctor from their profile, titled once', () => {
    expect(addedBy({ author: DOCTOR, author_name: 'Grace Hopper' })).toBe('added by Dr Grace Hopper')
    expect(addedBy({ author: DOCTOR, author_name: 'Dr. Ada Scenario' })).toBe('added by Dr. Ada Scenario')
    expect(addedBy({ author: DOCTOR, author_name: 'dr Who' })).toBe('added by dr Who')
    // A name that merely starts with the letters is still titled.
    expect(addedBy({ author: DOCTOR, author_name: 'Drake Ramoray' })).toBe('added by Dr Drake Ramoray')
  })

  it('falls back to the short address, and says nothing for the patient\'s own records', () => {
    expect(addedBy({ author: DOCTOR, author_name: null })).toBe('added by doctor 0x90f7…b906')
    expect(addedBy({ author: DOCTOR, author_name: '  ' })).toBe('added by doctor 0x90f7…b906')
    expect(addedBy({ author: null, author_name: null })).toBeNull()
    expect(addedBy({})).toBeNull()
  })
})
