/** The audit trail: every on-chain event about the patient's records and grants, and every view. */
import { usePatientAudit } from '../../api/queries'
import { QueryCard } from '../../components/QueryState'
import { AuditTable } from '../audit/AuditTable'

export function Audit() {
  const audit = usePatientAudit()
  const events = audit.data ?? []
  return (
    <QueryCard id="audit-title" title="Audit trail" query={audit} items={events} emptyText="Nothing has happened yet." what="audit events">
      <AuditTable events={events} />
    </QueryCard>
  )
}
