/** The audit trail: every on-chain event about the patient's records and grants, and every view. */
import { LoadState, RefreshHeader } from '../../components/ui'
import { useLoad } from '../../lib/useLoad'
import { useSession } from '../../session/SessionContext'
import { AuditTable } from '../audit/AuditTable'

export function Audit() {
  const { api } = useSession()
  const audit = useLoad(() => api.audit.patient(), [api])
  const events = audit.data ?? []
  return (
    <section className="card" aria-labelledby="audit-title">
      <RefreshHeader id="audit-title" onRefresh={audit.reload}>
        Audit trail
      </RefreshHeader>
      <LoadState
        loaded={audit}
        empty={events.length === 0}
        emptyText="Nothing has happened yet."
        what="audit events"
      />
      {events.length > 0 && <AuditTable events={events} />}
    </section>
  )
}
