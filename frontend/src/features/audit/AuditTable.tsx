/**
 * One table for audit trails: the patient's own and the registrar's view of every patient. Shared so
 * both read the same way (when, what, who, which transaction); the registrar's adds the patient.
 */
import type { AuditEvent } from '../../api/types'
import { DataTable } from '../../components/DataTable'
import { Address } from '../../components/ui'
import { formatDate, shortHash } from '../../lib/format'

function describe(event: AuditEvent): string {
  const ids = event.record_ids?.length ? ` (records ${event.record_ids.join(', ')})` : ''
  return `${event.event}${ids}`
}

export function AuditTable({ events, showPatient = false }: { events: AuditEvent[]; showPatient?: boolean }) {
  return (
    <DataTable
      rows={events}
      rowKey={(event, index) => `${event.id ?? event.tx_hash ?? ''}-${index}`}
      columns={[
        { header: 'When', cell: (event) => formatDate(event.timestamp) },
        showPatient && { header: 'Patient', cell: (event) => <Address value={event.patient} /> },
        { header: 'What', cell: describe },
        { header: 'Who', cell: (event) => <Address value={event.doctor} /> },
        { header: 'Transaction', cell: (event) => <code title={event.tx_hash ?? undefined}>{shortHash(event.tx_hash ?? undefined)}</code> },
      ]}
    />
  )
}
