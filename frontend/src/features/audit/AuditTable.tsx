/**
 * One table for audit trails: the patient's own and the registrar's view of every patient. Shared so
 * both read the same way (when, what, who, which transaction); the registrar's adds the patient.
 */
import type { AuditEvent } from '../../api/types'
import { DataTable } from '../../components/DataTable'
import { Address } from '../../components/ui'
import { txUrl } from '../../lib/explorer'
import { formatDate, shortHash } from '../../lib/format'
import { actorOf, describeAuditEvent, type Viewer } from './describe'

/** The sentence, record names emphasised, then the contract's event name (what a block explorer shows). */
function What({ event, viewer }: { event: AuditEvent; viewer: Viewer }) {
  return (
    <>
      <span className="audit-sentence">
        {describeAuditEvent(event, viewer).map((part, index) => (part.record ? <em key={index}>{part.text}</em> : part.text))}
      </span>{' '}
      <span className="muted small">{event.event}</span>
    </>
  )
}

/** The transaction of a chain event, linked to the block explorer when one is configured (a view is recorded off chain and has none). */
export function TxLink({ hash, explorer }: { hash: string | undefined; explorer?: string | null }) {
  if (!hash) return <span className="muted">off chain</span>
  const url = txUrl(explorer, hash)
  const code = <code title={hash}>{shortHash(hash)}</code>
  return url ? (
    <a href={url} target="_blank" rel="noopener noreferrer" aria-label={`Transaction ${shortHash(hash)} in the block explorer`}>
      {code}
    </a>
  ) : (
    code
  )
}

export function AuditTable({ events, viewer = 'patient', explorer }: { events: AuditEvent[]; viewer?: Viewer; explorer?: string | null }) {
  return (
    <DataTable
      rows={events}
      rowKey={(event, index) => `${event.id}-${index}`}
      columns={[
        { header: 'When', cell: (event) => formatDate(event.timestamp) },
        viewer === 'registrar' && { header: 'Patient', cell: (event) => <Address value={event.patient} /> },
        { header: 'What', cell: (event) => <What event={event} viewer={viewer} /> },
        { header: 'Who', cell: (event) => actorOf(event, viewer) },
        { header: 'Transaction', cell: (event) => <TxLink hash={event.source === 'chain' ? event.tx_hash : undefined} explorer={explorer} /> },
      ]}
    />
  )
}
