/**
 * The registrar's audit trail: every patient's on-chain events and every record view, newest first.
 * Paged by the server, because on a busy deployment this is the one list that grows without bound.
 */
import { useState } from 'react'
import { LoadState, RefreshHeader } from '../../components/ui'
import { useLoad } from '../../lib/useLoad'
import { useSession } from '../../session/SessionContext'
import { AuditTable } from '../audit/AuditTable'

const PAGE_SIZE = 50

export function AuditAll() {
  const { api } = useSession()
  const [page, setPage] = useState(1)
  const audit = useLoad(() => api.audit.all(page, PAGE_SIZE), [api, page])
  const data = audit.data
  const events = data?.events ?? []
  const pages = Math.max(1, data?.pages ?? 1)
  return (
    <section className="card" aria-labelledby="audit-all-title">
      <RefreshHeader id="audit-all-title" onRefresh={audit.reload}>
        Audit trail (all patients)
      </RefreshHeader>
      {data && (
        <p className="muted">
          {data.total} event(s){data.patients !== undefined ? ` across ${data.patients} patient(s)` : ''}. Page {data.page} of {pages}.
        </p>
      )}
      <LoadState
        loaded={audit}
        empty={events.length === 0}
        emptyText="Nothing has happened yet."
        what="audit events"
      />
      {events.length > 0 && <AuditTable events={events} showPatient />}
      {pages > 1 && (
        <nav aria-label="Audit pages" className="row">
          <button type="button" className="btn btn-secondary" disabled={page <= 1 || audit.loading} onClick={() => setPage((p) => p - 1)}>
            Newer
          </button>
          <button type="button" className="btn btn-secondary" disabled={page >= pages || audit.loading} onClick={() => setPage((p) => p + 1)}>
            Older
          </button>
        </nav>
      )}
    </section>
  )
}
