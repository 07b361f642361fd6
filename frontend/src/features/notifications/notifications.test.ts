import { describe, expect, it } from 'vitest'
import { attentionCount, readSeen, seenKey, seenRoute, staleData, tabBadges, titleWithCount, writeSeen, type Changes, type NotificationCounts } from './notifications'

const counts = (over: Partial<NotificationCounts> = {}): NotificationCounts => ({
  pending_requests: 0,
  answered_requests: 0,
  new_authored_records: 0,
  expiring_grants: 0,
  ...over,
})

describe('tab badges', () => {
  it('puts each patient count on its tab, in words too', () => {
    const badges = tabBadges('patient', counts({ pending_requests: 1, new_authored_records: 2, expiring_grants: 3 }), 'upload')
    expect(badges).toEqual({
      requests: { count: 1, text: '1 request waiting for your answer' },
      records: { count: 2, text: '2 new records from doctors' },
      sharing: { count: 3, text: '3 grants ending within 24 hours' },
    })
    expect(attentionCount(badges)).toBe(6)
  })

  it('puts the doctor counts on Find patient (answers) and Authorized records (ending grants)', () => {
    const badges = tabBadges('doctor', counts({ answered_requests: 1, expiring_grants: 1, pending_requests: 5 }), 'add')
    expect(badges).toEqual({
      find: { count: 1, text: '1 request answered' },
      authorized: { count: 1, text: '1 grant ending within 24 hours' },
    })
  })

  it('hides a "new" count while its list is open, but never a pending one', () => {
    const all = counts({ pending_requests: 1, new_authored_records: 4 })
    expect(tabBadges('patient', all, 'records')).toEqual({ requests: { count: 1, text: '1 request waiting for your answer' } })
    expect(Object.keys(tabBadges('patient', all, 'requests'))).toEqual(['requests', 'records'])
    expect(tabBadges('doctor', counts({ answered_requests: 2 }), 'find')).toEqual({})
  })

  it('shows nothing for zero counts, no data or a registrar', () => {
    expect(tabBadges('patient', counts(), 'records')).toEqual({})
    expect(tabBadges('patient', undefined, 'records')).toEqual({})
    expect(tabBadges('registrar', counts({ pending_requests: 3 }), 'doctors')).toEqual({})
    expect(attentionCount({})).toBe(0)
  })

  it('knows which tab marks news as seen', () => {
    expect(seenRoute('patient')).toBe('records')
    expect(seenRoute('doctor')).toBe('find')
    expect(seenRoute('registrar')).toBeNull()
  })
})

describe('title', () => {
  it('prefixes (n), replaces an earlier count and drops it at zero', () => {
    expect(titleWithCount('HealthLedger', 1)).toBe('(1) HealthLedger')
    expect(titleWithCount('(1) HealthLedger', 3)).toBe('(3) HealthLedger')
    expect(titleWithCount('(3) HealthLedger', 0)).toBe('HealthLedger')
    expect(titleWithCount('HealthLedger', 0)).toBe('HealthLedger')
    expect(titleWithCount('(2024) notes', 0)).toBe('notes') // only a "(digits) " prefix is ours…
    expect(titleWithCount('Notes (2)', 1)).toBe('(1) Notes (2)') // …never a count elsewhere
  })
})

describe('stale data', () => {
  const base: Changes = { requests: 'a', records: 'b', grants: 'c' }
  it('refetches nothing on the first answer or when nothing moved', () => {
    expect(staleData(undefined, base)).toEqual([])
    expect(staleData(base, { ...base })).toEqual([])
  })
  it('refetches requests (and the audit) when the requests token moves', () => {
    const stale = staleData(base, { ...base, requests: 'x' })
    expect(stale).toContain('patientRequests')
    expect(stale).toContain('doctorRequests')
    expect(stale).toContain('patientAudit')
    expect(stale).not.toContain('records')
  })
  it("refetches the doctor's authorized records when records or grants move (a revoke)", () => {
    expect(staleData(base, { ...base, records: 'x' })).toContain('authorized')
    expect(staleData(base, { ...base, grants: 'x' })).toContain('authorized')
    expect(staleData(base, { ...base, grants: 'x' })).toContain('grants')
    expect(staleData(base, { ...base, records: 'x' })).toContain('records')
  })
})

describe('seen marker', () => {
  const memory = () => {
    const values = new Map<string, string>()
    return { getItem: (key: string) => values.get(key) ?? null, setItem: (key: string, value: string) => void values.set(key, value) }
  }
  it('is kept per account, case-insensitively', () => {
    const storage = memory()
    expect(readSeen(storage, '0xAB')).toBeUndefined()
    writeSeen(storage, '0xAB', 1_700_000_000)
    expect(readSeen(storage, '0xab')).toBe(1_700_000_000)
    expect(readSeen(storage, '0xcd')).toBeUndefined()
    expect(seenKey('0xAB')).toBe('healthledger.seen.0xab')
  })
  it('ignores junk and blocked storage', () => {
    expect(readSeen({ getItem: () => 'soon' }, '0xab')).toBeUndefined()
    expect(readSeen({ getItem: () => '-5' }, '0xab')).toBeUndefined()
    expect(
      readSeen(
        {
          getItem: () => {
            throw new Error('blocked')
          },
        },
        '0xab',
      ),
    ).toBeUndefined()
    expect(() =>
      writeSeen(
        {
          setItem: () => {
            throw new Error('full')
          },
        },
        '0xab',
        1,
      ),
    ).not.toThrow()
    expect(readSeen(undefined, '0xab')).toBeUndefined()
  })
})
