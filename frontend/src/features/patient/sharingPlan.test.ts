import { describe, expect, it } from 'vitest'
import { alreadySharedLine, approvalSummary, DAY, planApproval, type CurrentGrant, type ShareableRecord } from './sharingPlan'

const NOW = 1_800_000_000
const SHAREABLE: ShareableRecord[] = [
  { record_id: 0, name: 'Amoxicillin prescription' },
  { record_id: 1, name: 'Invoice March' },
  { record_id: 2, name: 'Blood test' },
]
// Dr Lopez can read the prescription for 8 more days (the "until Dec 9").
const CURRENT: CurrentGrant = { expires_at: NOW + 8 * DAY, records: [{ record_id: 0, name: 'Amoxicillin prescription' }] }
const date = (unix: number) => `T+${(unix - NOW) / DAY}d`

describe('planApproval: add (the default)', () => {
  it("signs the union of what is shared and what is ticked, until the later end (the issue's defect)", () => {
    const plan = planApproval({ current: CURRENT, shareable: SHAREABLE, ticked: [1], days: 2, mode: 'add', now: NOW })
    expect(plan.recordIds).toEqual([0, 1])
    expect(plan.duration).toBe(8 * DAY) // not 2 days: the prescription stays readable until its end
    expect(plan.expiresAt).toBe(CURRENT.expires_at)
    expect(plan.kept).toEqual([0])
    expect(plan.removed).toEqual([])
    expect(plan.shortens).toBe(false)
  })

  it('extends when the chosen days end later than the grant', () => {
    const plan = planApproval({ current: CURRENT, shareable: SHAREABLE, ticked: [1], days: 30, mode: 'add', now: NOW })
    expect(plan.duration).toBe(30 * DAY)
    expect(plan.expiresAt).toBe(NOW + 30 * DAY)
  })

  it('without a live grant it is the ticked records for the chosen days', () => {
    const expired = { ...CURRENT, expires_at: NOW - 1 }
    for (const current of [null, expired]) {
      const plan = planApproval({ current, shareable: SHAREABLE, ticked: [2, 1, 1], days: 3, mode: 'add', now: NOW })
      expect(plan).toMatchObject({ recordIds: [1, 2], duration: 3 * DAY, kept: [], gone: [] })
    }
  })

  it('a ticked record that is already shared is not counted twice', () => {
    const plan = planApproval({ current: CURRENT, shareable: SHAREABLE, ticked: [0, 1], days: 1, mode: 'add', now: NOW })
    expect(plan.recordIds).toEqual([0, 1])
    expect(plan.kept).toEqual([])
  })

  it('drops shared records that no longer exist in the list (they cannot be shared again) and says so', () => {
    const current: CurrentGrant = { expires_at: NOW + DAY, records: [{ record_id: 0 }, { record_id: 7, name: null }] }
    const plan = planApproval({ current, shareable: SHAREABLE, ticked: [1], days: 1, mode: 'add', now: NOW })
    expect(plan.recordIds).toEqual([0, 1])
    expect(plan.gone).toEqual([7])
    expect(approvalSummary('Dr Lopez', plan, SHAREABLE, current, date)).toBe(
      'Dr Lopez will be able to read: Amoxicillin prescription, Invoice March, until T+1d. Record #7 no longer in your list will not be shared.',
    )
  })

  it('ignores ticked ids the patient cannot share', () => {
    const plan = planApproval({ current: null, shareable: SHAREABLE, ticked: [9], days: 1, mode: 'add', now: NOW })
    expect(plan.recordIds).toEqual([])
  })
})

describe('planApproval: replace (an explicit choice)', () => {
  it('signs only the ticked records for the chosen days, and reports what is taken away and the shorter end', () => {
    const plan = planApproval({ current: CURRENT, shareable: SHAREABLE, ticked: [1], days: 2, mode: 'replace', now: NOW })
    expect(plan).toMatchObject({ recordIds: [1], duration: 2 * DAY, expiresAt: NOW + 2 * DAY, removed: [0], kept: [], shortens: true })
  })

  it('does not call a longer replacement shorter', () => {
    const plan = planApproval({ current: CURRENT, shareable: SHAREABLE, ticked: [0], days: 9, mode: 'replace', now: NOW })
    expect(plan).toMatchObject({ recordIds: [0], removed: [], shortens: false })
  })
})

describe('approvalSummary', () => {
  it("says exactly what the doctor will read and until when (the issue's example)", () => {
    const plan = planApproval({ current: CURRENT, shareable: SHAREABLE, ticked: [1], days: 2, mode: 'add', now: NOW })
    expect(approvalSummary('Dr Lopez', plan, SHAREABLE, CURRENT, date)).toBe('Dr Lopez will be able to read: Amoxicillin prescription, Invoice March, until T+8d.')
  })

  it('names what a replacement takes away and that it ends earlier', () => {
    const plan = planApproval({ current: CURRENT, shareable: SHAREABLE, ticked: [1], days: 2, mode: 'replace', now: NOW })
    expect(approvalSummary('Dr Lopez', plan, SHAREABLE, CURRENT, date)).toBe(
      'Dr Lopez will be able to read: Invoice March, until T+2d. No longer shared: Amoxicillin prescription. This ends access earlier than now (T+8d).',
    )
  })

  it('asks for a record when the set would be empty', () => {
    const plan = planApproval({ current: null, shareable: SHAREABLE, ticked: [], days: 2, mode: 'replace', now: NOW })
    expect(approvalSummary('Dr Lopez', plan, SHAREABLE, null, date)).toBe('Tick at least one record: Dr Lopez would be able to read nothing.')
  })

  it('formats real dates by default', () => {
    const plan = planApproval({ current: null, shareable: SHAREABLE, ticked: [2], days: 1, mode: 'add', now: NOW })
    expect(approvalSummary('Dr Lopez', plan, SHAREABLE, null)).toMatch(/^Dr Lopez will be able to read: Blood test, until .*2027.*\.$/)
  })
})

describe('alreadySharedLine', () => {
  it('names the live records and the end; nothing for no grant or an ended one', () => {
    expect(alreadySharedLine(CURRENT, SHAREABLE, NOW, date)).toBe('Amoxicillin prescription until T+8d')
    expect(alreadySharedLine(null, SHAREABLE, NOW, date)).toBeNull()
    expect(alreadySharedLine({ ...CURRENT, expires_at: NOW }, SHAREABLE, NOW, date)).toBeNull()
  })

  it('falls back to the number of a record the service does not know', () => {
    expect(alreadySharedLine({ expires_at: NOW + DAY, records: [{ record_id: 5, name: null }, { record_id: 1 }] }, SHAREABLE, NOW, date)).toBe(
      'Invoice March, record #5 until T+1d',
    )
  })
})
