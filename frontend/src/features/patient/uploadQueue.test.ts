import { describe, expect, it } from 'vitest'
import type { PatientRecord } from '../../api/types'
import { IDLE } from '../../components/progress/chainStage'
import { duplicateOf, isReady, type UploadItem } from './UploadQueue'

const TAG = `0x${'ab'.repeat(32)}` as const
const item = (id: number, changes: Partial<UploadItem> = {}): UploadItem => ({
  id,
  file: new File(['x'], `f${id}.pdf`),
  name: `file ${id}`,
  recordType: 'report',
  hashing: null,
  contentHash: `0x${'11'.repeat(32)}`,
  salt: `0x${'22'.repeat(32)}`,
  duplicateTag: TAG,
  hashError: null,
  allowDuplicate: false,
  chain: IDLE,
  transfer: null,
  record: null,
  ...changes,
})
const record = { cid: 'bafyold', name: 'Old scan', created_at: '2026-11-02T10:00:00+00:00', duplicate_tag: TAG } as PatientRecord

describe('upload queue: duplicates and readiness', () => {
  it('finds a record with the same tag, else an earlier file in the list', () => {
    expect(duplicateOf(item(1), [record], [])).toEqual({ kind: 'record', record })
    const first = item(1)
    expect(duplicateOf(item(2), [], [first, item(2)])).toEqual({ kind: 'queued', item: first })
    expect(duplicateOf(first, [], [first, item(2)])).toBeNull() // the first of two copies is not the duplicate
    expect(duplicateOf(item(3, { duplicateTag: `0x${'cd'.repeat(32)}` }), [record], [first])).toBeNull()
    expect(duplicateOf(item(4, { duplicateTag: null }), [record], [])).toBeNull()
  })

  it('does not call a finished upload a duplicate of its own record', () => {
    const done = item(1, { record: { ...record } as never })
    expect(duplicateOf(done, [record], [done])).toBeNull()
  })

  it('holds a duplicate back until the patient allows it, and waits for the fingerprint and tag', () => {
    const dup = { kind: 'record' as const, record }
    expect(isReady(item(1), dup, true)).toBe(false)
    expect(isReady(item(1, { allowDuplicate: true }), dup, true)).toBe(true)
    expect(isReady(item(1, { duplicateTag: null }), null, true)).toBe(false)
    expect(isReady(item(1, { duplicateTag: null }), null, false)).toBe(true)
    expect(isReady(item(1, { hashing: { done: 1, total: 2 } }), null, true)).toBe(false)
    expect(isReady(item(1, { name: '  ' }), null, true)).toBe(false)
    expect(isReady(item(1, { chain: { ...IDLE, stage: 'sending' } }), null, true)).toBe(false)
    expect(isReady(item(1, { chain: { ...IDLE, stage: 'done' } }), null, true)).toBe(false)
    expect(isReady(item(1, { chain: { ...IDLE, stage: 'failed' } }), null, true)).toBe(true) // a retry
  })
})
