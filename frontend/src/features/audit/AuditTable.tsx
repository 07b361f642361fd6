/**
 * One table for audit trails: the patient's own and the registrar's view of every patient. Shared so
 * both read the same way (when, what, who, which transaction); the registrar's adds the patient.
 */
import type { AuditEvent } from '../../api/types'
import { Address } from '../../components/ui'
import { formatDate, shortHash } from '../../lib/format'

function describe(event: AuditEvent): string {
  const ids = event.record_ids?.length ? ` (records ${event.record_ids.join(', ')})` : ''
  return `${event.event ?? event.type ?? 'event'}${ids}`
}

export function AuditTable({ events, showPatient = false }: { events: AuditEvent[]; showPatient?: boolean }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">When</th>
            {showPatient && <th scope="col">Patient</th>}
            <th scope="col">What</th>
            <th scope="col">Who</th>
            <th scope="col">Transaction</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event, index) => (
            <tr key={`${event.id ?? event.tx_hash ?? ''}-${index}`}>
              <td>{formatDate(event.timestamp)}</td>
              {showPatient && (
                <td>
                  <Address value={typeof event.patient === 'string' ? event.patient : undefined} />
                </td>
              )}
              <td>{describe(event)}</td>
              <td>
                <Address value={event.doctor ?? event.actor} />
              </td>
              <td>
                <code title={event.tx_hash}>{shortHash(event.tx_hash)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
