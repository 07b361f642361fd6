/** The audit trail: every on-chain event about the patient's records and grants, and every view. */
import { LoadState } from '../../components/ui'
import { useLoad } from '../../lib/useLoad'
import { useSession } from '../../session/SessionContext'
import { AuditTable } from '../audit/AuditTable'

export function Audit() {
  const { api } = useSession()
  const audit = useLoad(() => api.audit.patient(), [api])
  const events = audit.data ?? []
  return (
    <section className="card" aria-labelledby="audit-title">
      <div className="row between">
        <h2 id="audit-title">Audit trail</h2>
        <button type="button" className="btn btn-secondary" onClick={() => void audit.reload()}>
          Refresh
        </button>
      </div>
      <LoadState
        loading={audit.loading && !audit.data}
        error={audit.error}
        notAvailable={audit.notAvailable}
        empty={events.length === 0}
        emptyText="Nothing has happened yet."
        what="audit events"
      />
      {events.length > 0 && <AuditTable events={events} />}
    </section>
  )
}
