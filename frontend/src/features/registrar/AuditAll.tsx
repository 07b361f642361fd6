/**
 * The registrar's audit trail: every patient's on-chain events and every record view, newest first.
 * Paged by the server, because on a busy deployment this is the one list that grows without bound.
 */
import { useState } from 'react'
import { useAuditPage } from '../../api/queries'
import { QueryCard } from '../../components/QueryState'
import { CsvButton } from '../audit/AuditFilters'
import { AuditTrail, useAuditFilters } from '../audit/AuditTrail'

const PAGE_SIZE = 50

export function AuditAll() {
  const [page, setPage] = useState(1)
  const audit = useAuditPage(page, PAGE_SIZE)
  const data = audit.data
  const events = data?.events ?? []
  const { filters, setFilters, rows } = useAuditFilters(events, 'registrar')
  const pages = Math.max(1, data?.pages ?? 1)
  const summary = data && (
    <p className="muted">
      {data.total} event(s){data.patients !== undefined ? ` across ${data.patients} patient(s)` : ''}. Page {data.page} of {pages}.
    </p>
  )
  const pager = pages > 1 && (
    <nav aria-label="Audit pages" className="row">
      <button type="button" className="btn btn-secondary" disabled={page <= 1 || audit.isFetching} onClick={() => setPage((p) => p - 1)}>
        Newer
      </button>
      <button type="button" className="btn btn-secondary" disabled={page >= pages || audit.isFetching} onClick={() => setPage((p) => p + 1)}>
        Older
      </button>
    </nav>
  )
  return (
    <QueryCard id="audit-all-title" title="Audit trail (all patients)" emptyText="Nothing has happened yet." what="audit events"
      query={audit} items={events} intro={summary} footer={pager} actions={events.length > 0 && <CsvButton rows={rows} viewer="registrar" />}>
      <AuditTrail events={events} rows={rows} filters={filters} onFilters={setFilters} viewer="registrar"
        scopeNote={pages > 1 ? ' on this page (filters and the CSV cover this page)' : undefined} />
    </QueryCard>
  )
}
