/**
 * What the live-update poll means for the screen: which tab shows which count, the "(n)" in the
 * window title, which server data to refetch when a change token moves, and the "seen" marker
 * that makes "new" counts new. Pure functions (the hook in useNotifications.ts wires them up), so
 * the rules are unit-tested without a server.
 */
import type { ServerData } from '../../api/queries'
import type { Role } from '../../api/types'

export interface NotificationCounts {
  pending_requests: number
  answered_requests: number
  new_authored_records: number
  expiring_grants: number
}

export type ChangeArea = 'requests' | 'records' | 'grants'
export type Changes = Record<ChangeArea, string>

/** A count on one tab, and what it says in words (for screen readers and the tooltip). */
export interface TabBadge {
  count: number
  text: string
}

interface BadgeRule {
  route: string
  count: keyof NotificationCounts
  /** Counted since the list was last shown: hidden while that tab is open (it is being seen). */
  seenOnTab: boolean
  words: [singular: string, plural: string]
}

const RULES: Record<'patient' | 'doctor', BadgeRule[]> = {
  patient: [
    { route: 'requests', count: 'pending_requests', seenOnTab: false, words: ['request waiting for your answer', 'requests waiting for your answer'] },
    { route: 'records', count: 'new_authored_records', seenOnTab: true, words: ['new record from a doctor', 'new records from doctors'] },
    { route: 'sharing', count: 'expiring_grants', seenOnTab: false, words: ['grant ending within 24 hours', 'grants ending within 24 hours'] },
  ],
  doctor: [
    { route: 'find', count: 'answered_requests', seenOnTab: true, words: ['request answered', 'requests answered'] },
    { route: 'authorized', count: 'expiring_grants', seenOnTab: false, words: ['grant ending within 24 hours', 'grants ending within 24 hours'] },
  ],
}

/** The tab (route) whose list the "since" marker belongs to: opening it marks its news seen. */
export function seenRoute(role: Role): string | null {
  if (role === 'registrar') return null
  return RULES[role].find((rule) => rule.seenOnTab)?.route ?? null
}

/** route -> badge for the tabs that have something to show (`activeRoute` hides its "new" count). */
export function tabBadges(role: Role, counts: NotificationCounts | undefined, activeRoute: string): Record<string, TabBadge> {
  const badges: Record<string, TabBadge> = {}
  if (!counts || role === 'registrar') return badges
  for (const rule of RULES[role]) {
    const count = counts[rule.count]
    if (count <= 0 || (rule.seenOnTab && rule.route === activeRoute)) continue
    const [singular, plural] = rule.words
    const text = `${count} ${count === 1 ? singular : plural}`
    const previous = badges[rule.route]
    badges[rule.route] = previous ? { count: previous.count + count, text: `${previous.text}, ${text}` } : { count, text }
  }
  return badges
}

/** Everything the badges show, added up: the title's "(n)". */
export function attentionCount(badges: Record<string, TabBadge>): number {
  return Object.values(badges).reduce((sum, badge) => sum + badge.count, 0)
}

/** `base` with "(n) " in front when n > 0; an earlier "(m) " prefix is replaced, never stacked. */
export function titleWithCount(base: string, count: number): string {
  const plain = base.replace(/^\(\d+\) /, '')
  return count > 0 ? `(${count}) ${plain}` : plain
}

/** The server data each area's token covers (the audit trail follows every change). */
const AFFECTED: Record<ChangeArea, ServerData[]> = {
  requests: ['patientRequests', 'doctorRequests', 'grants', 'writeGrants', 'doctorWriteGrants', 'patientAudit'],
  records: ['records', 'authored', 'authorized', 'patientAudit', 'patientRecordViews'],
  grants: ['grants', 'authorized', 'writeGrants', 'doctorWriteGrants', 'patientAudit', 'patientRecordViews'],
}

/** What to refetch going from `before` to `after` (nothing on the first answer: it was just loaded). */
export function staleData(before: Changes | undefined, after: Changes): ServerData[] {
  if (!before) return []
  const stale = new Set<ServerData>()
  for (const area of Object.keys(AFFECTED) as ChangeArea[]) {
    if (before[area] !== after[area]) AFFECTED[area].forEach((what) => stale.add(what))
  }
  return [...stale]
}

/** Where the "seen up to" server time is kept, per account (a browser's own notion of what was shown). */
export const seenKey = (address: string) => `healthledger.seen.${address.toLowerCase()}`

export function readSeen(storage: Pick<Storage, 'getItem'> | undefined, address: string): number | undefined {
  try {
    const value = Number(storage?.getItem(seenKey(address)))
    return Number.isSafeInteger(value) && value > 0 ? value : undefined
  } catch {
    return undefined // storage blocked: everything counts as new until the tab is opened
  }
}

export function writeSeen(storage: Pick<Storage, 'setItem'> | undefined, address: string, now: number): void {
  try {
    storage?.setItem(seenKey(address), String(now))
  } catch {
    /* storage blocked or full: the count simply stays until the tab is opened again */
  }
}
