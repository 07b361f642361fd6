import { describe, expect, it } from 'vitest'
import { versionNumber } from './RecordHistory'
import { currentVersionOf } from './Superseded'

describe('versionNumber', () => {
  const versions = [{ cid: 'v3' }, { cid: 'v2' }, { cid: 'v1' }] // newest first, as the history lists them
  it('counts from the oldest', () => {
    expect(versionNumber(versions, 'v3')).toEqual({ n: 3, m: 3 })
    expect(versionNumber(versions, 'v1')).toEqual({ n: 1, m: 3 })
    expect(versionNumber(versions, 'other')).toBeNull()
  })
})

describe('currentVersionOf', () => {
  const records = [
    { cid: 'v1', replaced_by: 'v2' },
    { cid: 'v2', replaced_by: 'v3' },
    { cid: 'v3', replaced_by: null },
    { cid: 'loop', replaced_by: 'loop2' },
    { cid: 'loop2', replaced_by: 'loop' },
  ]
  it('follows replaced_by to the newest version in the list', () => {
    expect(currentVersionOf(records[0], records)?.cid).toBe('v3')
    expect(currentVersionOf(records[1], records)?.cid).toBe('v3')
  })
  it('is null for a current version, and ends on a cycle', () => {
    expect(currentVersionOf(records[2], records)).toBeNull()
    expect(currentVersionOf(records[3], records)?.cid).toBe('loop2')
  })
  it('stops at the last version the list holds', () => {
    expect(currentVersionOf({ cid: 'x', replaced_by: 'missing' }, records)).toBeNull()
  })
})
