/**
 * One table for audit trails: the patient's own and the registrar's view of every patient. Shared so
 * both read the same way (when, what, who, which transaction); the registrar's adds the patient.
 */
import type { AuditEvent } from '../../api/types'
import { DataTable } from '../../components/DataTable'
import { Address } from '../../components/ui'
import { formatDate, shortHash } from '../../lib/format'
import { describeAuditEvent } from './describe'

/** The sentence, then the contract's event name (what a block explorer shows for the transaction). */
function What({ event }: { event: AuditEvent }) {
  return (
    <>
      {describeAuditEvent(event)} <span className="muted small">{event.event}</span>
    </>
  )
}

/** The transaction of a chain event (a view is recorded off chain and has none). */
function txHash(event: AuditEvent): string | undefined {
  return event.source === 'chain' ? event.tx_hash : undefined
}

export function AuditTable({ events, showPatient = false }: { events: AuditEvent[]; showPatient?: boolean }) {
  return (
    <DataTable
      rows={events}
      rowKey={(event, index) => `${event.id}-${index}`}
      columns={[
        { header: 'When', cell: (event) => formatDate(event.timestamp) },
        showPatient && { header: 'Patient', cell: (event) => <Address value={event.patient} /> },
        { header: 'What', cell: (event) => <What event={event} /> },
        { header: 'Who', cell: (event) => <Address value={event.doctor} /> },
        { header: 'Transaction', cell: (event) => <code title={txHash(event)}>{shortHash(txHash(event))}</code> },
      ]}
    />
  )
}
