/**
 * What an approval will leave a doctor able to read, worked out before the patient signs.
 *
 * On chain `approveRecords` *replaces* the doctor's read grant: the signed bitmap becomes the whole
 * set and the signed `duration` runs from the block that mines it (`expiresAt = block.timestamp +
 * duration`). Signing only the newly ticked records for the chosen days therefore took back what was
 * shared before (issue 14: the prescription vanished and Dec 9 became Dec 1). So the app signs, by
 * default, the union of what is live now and what is newly ticked, for the later of the two ends;
 * replacing (only the ticked records, possibly a shorter time) is an explicit choice. Pure functions,
 * so the rules are unit-tested without React or a wallet.
 */
import { formatDate } from '../../lib/format'

export const DAY = 86_400

/** "Add to what Dr X can already see" (the default) or "Replace with only these". */
export type ShareMode = 'add' | 'replace'

/** A record the patient may share: on chain with an id, named. */
export interface ShareableRecord {
  record_id: number
  name: string
}

/** The doctor's live read grant, as GET /patient/grants lists it (ids only are certain). */
export interface CurrentGrant {
  expires_at: number
  records: { record_id: number; name?: string | null }[]
}

export interface PlanInput {
  /** The doctor's live grant, or null when they can read nothing now. */
  current: CurrentGrant | null
  /** The patient's records that can be shared now (on chain, with an id). */
  shareable: ShareableRecord[]
  /** The ids ticked on the request card. */
  ticked: number[]
  /** The days chosen on the card (1 or more). */
  days: number
  mode: ShareMode
  /** The chain's time in Unix seconds (the latest block's timestamp when known, else the clock). */
  now: number
}

export interface SharePlan {
  /** The ids to sign (sorted, no repeats): the whole set the doctor will be able to read. */
  recordIds: number[]
  /** The signed `duration` in seconds (from the block that mines the approval). */
  duration: number
  /** When the grant will end (about: `now` + `duration`; the mined block may be a few seconds later). */
  expiresAt: number
  /** Ids shared now that stay shared although not ticked (add mode). */
  kept: number[]
  /** Ids shared now that this approval takes away (replace mode). */
  removed: number[]
  /** Ids in the current grant the service no longer lists: they cannot be shared again and drop out. */
  gone: number[]
  /** The approval ends the grant earlier than it ends now (replace mode with fewer days). */
  shortens: boolean
}

const sorted = (ids: Iterable<number>) => [...new Set(ids)].sort((a, b) => a - b)

/** The live part of `current`: null when it has already ended at `now`. */
function live(current: CurrentGrant | null, now: number): CurrentGrant | null {
  return current && current.expires_at > now ? current : null
}

/**
 * The set and the duration to sign. In add mode: the union of the live grant's records (those the
 * patient can still share) and the ticked ones, until the later of the grant's end and `now + days`.
 * In replace mode: the ticked records alone for `days` from now.
 */
export function planApproval({ current, shareable, ticked, days, mode, now }: PlanInput): SharePlan {
  const grant = live(current, now)
  const known = new Set(shareable.map((record) => record.record_id))
  const wanted = sorted(ticked.filter((id) => known.has(id)))
  const shared = sorted(grant?.records.map((record) => record.record_id) ?? [])
  const gone = shared.filter((id) => !known.has(id))
  const stillShareable = shared.filter((id) => known.has(id))
  const chosen = Math.max(1, Math.floor(days)) * DAY
  const left = grant ? grant.expires_at - now : 0
  if (mode === 'add') {
    const recordIds = sorted([...stillShareable, ...wanted])
    const duration = Math.max(chosen, left)
    return {
      recordIds,
      duration,
      expiresAt: now + duration,
      kept: stillShareable.filter((id) => !wanted.includes(id)),
      removed: [],
      gone,
      shortens: false,
    }
  }
  return {
    recordIds: wanted,
    duration: chosen,
    expiresAt: now + chosen,
    kept: [],
    removed: stillShareable.filter((id) => !wanted.includes(id)),
    gone,
    shortens: grant !== null && now + chosen < grant.expires_at,
  }
}

/** A record's name for the summary: the patient's name for it, else the grant's, else its number. */
function nameOf(id: number, shareable: ShareableRecord[], current: CurrentGrant | null): string {
  return (
    shareable.find((record) => record.record_id === id)?.name ||
    current?.records.find((record) => record.record_id === id)?.name ||
    `record #${id}`
  )
}

/** "Amoxicillin prescription, Invoice March" */
export function recordNames(ids: number[], shareable: ShareableRecord[], current: CurrentGrant | null = null): string {
  return ids.map((id) => nameOf(id, shareable, current)).join(', ')
}

/**
 * The sentence shown before signing: "Dr Lopez will be able to read: Amoxicillin prescription,
 * Invoice March, until Dec 9, 2026, 10:00 AM." and, when the choice takes something away, what.
 * `who` is the doctor's title ("Dr Lopez"); `date` formats a Unix time (the app's `formatDate`).
 */
export function approvalSummary(
  who: string,
  plan: SharePlan,
  shareable: ShareableRecord[],
  current: CurrentGrant | null,
  date: (unix: number) => string = formatDate,
): string {
  if (plan.recordIds.length === 0) return `Tick at least one record: ${who} would be able to read nothing.`
  const parts = [`${who} will be able to read: ${recordNames(plan.recordIds, shareable, current)}, until ${date(plan.expiresAt)}.`]
  if (plan.removed.length) parts.push(`No longer shared: ${recordNames(plan.removed, shareable, current)}.`)
  if (plan.shortens && current) parts.push(`This ends access earlier than now (${date(current.expires_at)}).`)
  if (plan.gone.length) {
    parts.push(`${plan.gone.length === 1 ? 'Record' : 'Records'} ${plan.gone.map((id) => `#${id}`).join(', ')} no longer in your list will not be shared.`)
  }
  return parts.join(' ')
}

/** The card's line on what the doctor can read now: "Amoxicillin prescription until Dec 9, 2026, 10:00 AM". */
export function alreadySharedLine(current: CurrentGrant | null, shareable: ShareableRecord[], now: number, date: (unix: number) => string = formatDate): string | null {
  const grant = live(current, now)
  if (!grant || grant.records.length === 0) return null
  return `${recordNames(sorted(grant.records.map((r) => r.record_id)), shareable, grant)} until ${date(grant.expires_at)}`
}
