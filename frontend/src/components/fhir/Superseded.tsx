/**
 * A superseded version in a record list: marked "superseded" in words (not colour only) with a button
 * to the current version, found by following `replaced_by` through the same list (the list holds every
 * version the reader may see; the chain of amendments is short).
 */
import type { MedicalRecord } from '../../api/types'
import { Badge } from '../ui'

/** The newest version reachable from `record` by `replaced_by` within `records`; null when it is current. */
export function currentVersionOf<R extends Pick<MedicalRecord, 'cid' | 'replaced_by'>>(record: R, records: readonly R[]): R | null {
  if (!record.replaced_by) return null
  const byCid = new Map(records.map((r) => [r.cid, r]))
  let current: R | undefined = byCid.get(record.replaced_by)
  const seen = new Set([record.cid])
  // A cycle cannot happen (one successor per version, set once mined), but a list must never loop.
  while (current?.replaced_by && !seen.has(current.replaced_by) && byCid.has(current.replaced_by)) {
    seen.add(current.cid)
    current = byCid.get(current.replaced_by)
  }
  return current ?? null
}

export function SupersededNote<R extends Pick<MedicalRecord, 'cid' | 'name' | 'superseded' | 'replaced_by'>>({
  record,
  current,
  onOpen,
}: {
  record: R
  current: R | null
  onOpen: (current: R) => void
}) {
  if (!record.superseded && !record.replaced_by) return null
  return (
    <div className="small superseded-note">
      <Badge kind="neutral">superseded</Badge> a newer version replaces it.{' '}
      {current && (
        <button type="button" className="btn btn-small btn-secondary" onClick={() => onOpen(current)}>
          Open the current version
        </button>
      )}
    </div>
  )
}
