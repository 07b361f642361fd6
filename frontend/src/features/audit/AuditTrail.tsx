/**
 * An audit trail with its filters and CSV download: the rows the server sent, narrowed in the
 * browser; the CSV holds exactly the rows shown. Transaction links when the server publishes a
 * block explorer (BLOCK_EXPLORER_URL).
 */
import { useMemo, useState, type ReactNode } from 'react'
import { useClientConfig } from '../../api/queries'
import type { AuditEvent } from '../../api/types'
import { AuditFilterBar } from './AuditFilters'
import { AuditTable } from './AuditTable'
import type { Viewer } from './describe'
import { NO_FILTERS, filterAuditEvents, isFiltered, type AuditFilters } from './filters'

/** Filter state and the rows it leaves, for a screen that puts the CSV button in its header. */
export function useAuditFilters(events: readonly AuditEvent[], viewer: Viewer) {
  const [filters, setFilters] = useState<AuditFilters>(NO_FILTERS)
  const rows = useMemo(() => filterAuditEvents(events, filters, viewer), [events, filters, viewer])
  return { filters, setFilters, rows }
}

export function AuditTrail({
  events,
  rows,
  filters,
  onFilters,
  viewer,
  scopeNote,
}: {
  events: readonly AuditEvent[]
  rows: AuditEvent[]
  filters: AuditFilters
  onFilters: (filters: AuditFilters) => void
  viewer: Viewer
  scopeNote?: ReactNode
}) {
  const explorer = useClientConfig().data?.block_explorer_url
  return (
    <>
      <AuditFilterBar events={events} filters={filters} onChange={onFilters} viewer={viewer} />
      <p className="muted small" aria-live="polite">
        {isFiltered(filters) ? `Showing ${rows.length} of ${events.length} entries` : `${events.length} entries`}
        {scopeNote}
      </p>
      {rows.length > 0 ? <AuditTable events={rows} viewer={viewer} explorer={explorer} /> : <p className="muted">No entries match these filters.</p>}
    </>
  )
}
