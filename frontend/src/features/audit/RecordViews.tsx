/**
 * "viewed 2×, last Nov 29" under a record the patient shared: how often doctors opened it, from
 * the view log (GET /api/audit/patient/views; the patient's own views do not count).
 */
import { usePatientRecordViews } from '../../api/queries'
import type { RecordViews } from '../../api/types'
import { formatDate } from '../../lib/format'
import { shortDay } from './describe'
import './audit.css'

/** "viewed 2×, last Nov 29"; null when nobody else opened it. */
export function viewsText(views: Pick<RecordViews, 'views' | 'last_viewed_at'> | undefined, now: Date = new Date()): string | null {
  if (!views || views.views <= 0) return null
  return `viewed ${views.views}×, last ${shortDay(views.last_viewed_at, now)}`
}

export function RecordViewsNote({ cid }: { cid: string }) {
  const views = usePatientRecordViews()
  const row = views.data?.find((item) => item.cid === cid)
  const label = viewsText(row)
  if (!label || !row) return null
  return (
    <span className="record-views muted small" title={`Opened by doctors ${row.views} time(s); last on ${formatDate(row.last_viewed_at)}`}>
      {label}
    </span>
  )
}
