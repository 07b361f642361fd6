/** The audit trail: every on-chain event about the patient's records and grants, and every view, as sentences. */
import { usePatientAudit } from '../../api/queries'
import { QueryCard } from '../../components/QueryState'
import { CsvButton } from '../audit/AuditFilters'
import { AuditTrail, useAuditFilters } from '../audit/AuditTrail'

export function Audit() {
  const audit = usePatientAudit()
  const events = audit.data ?? []
  const { filters, setFilters, rows } = useAuditFilters(events, 'patient')
  return (
    <QueryCard id="audit-title" title="Audit trail" query={audit} items={events} emptyText="Nothing has happened yet." what="audit events"
      actions={events.length > 0 && <CsvButton rows={rows} viewer="patient" />}>
      <AuditTrail events={events} rows={rows} filters={filters} onFilters={setFilters} viewer="patient" />
    </QueryCard>
  )
}
