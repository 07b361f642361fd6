/** The audit trail: every on-chain event about the patient's records and grants. */
import type { AuditEvent } from '../../api/types'
import { Address, LoadState } from '../../components/ui'
import { formatDate, shortHash } from '../../lib/format'
import { useLoad } from '../../lib/useLoad'
import { useSession } from '../../session/SessionContext'

function describe(event: AuditEvent): string {
  const ids = event.record_ids?.length ? ` (records ${event.record_ids.join(', ')})` : ''
  return `${event.event ?? event.type ?? 'event'}${ids}`
}

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
      {events.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col">Who</th>
                <th scope="col">Transaction</th>
              </tr>
            </thead>
            <tbody>
              {events.map((event, index) => (
                <tr key={`${event.tx_hash ?? ''}-${index}`}>
                  <td>{formatDate(event.timestamp)}</td>
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
      )}
    </section>
  )
}
