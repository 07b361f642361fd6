/** Doctors: their own access requests and what became of each (pending, approved, denied, replaced). */
import { useDoctorRequests } from '../../api/queries'
import type { DoctorRequest } from '../../api/types'
import { DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { Address, Badge } from '../../components/ui'
import { formatDate } from '../../lib/format'

const STATE: Record<DoctorRequest['state'], { kind: 'ok' | 'warn' | 'bad' | 'neutral'; label: string }> = {
  pending: { kind: 'warn', label: 'waiting for the patient' },
  approved: { kind: 'ok', label: 'approved' },
  denied: { kind: 'bad', label: 'denied' },
  superseded: { kind: 'neutral', label: 'replaced by a newer request' },
}

function StateCell({ request }: { request: DoctorRequest }) {
  const state = STATE[request.state] ?? { kind: 'neutral' as const, label: request.state }
  return (
    <>
      <Badge kind={state.kind}>{state.label}</Badge>
      {request.responded_at && <span className="muted small"> {formatDate(request.responded_at)}</span>}
    </>
  )
}

export function MyRequests() {
  const requests = useDoctorRequests()
  const list = requests.data ?? []
  return (
    <QueryCard id="my-requests-title" title="My requests" emptyText="You have not asked any patient for access yet." what="your requests"
      query={requests} items={list}>
      <DataTable
        rows={list}
        rowKey={(request) => request.id}
        columns={[
          { header: 'Sent', cell: (request) => formatDate(request.created_at) },
          { header: 'Patient', cell: (request) => <Address value={request.patient} /> },
          { header: 'Reason', cell: (request) => request.reason },
          { header: 'State', cell: (request) => <StateCell request={request} /> },
        ]}
      />
      <p className="muted small">An approval lasts until it expires or the patient revokes it: “Authorized records” shows what is shared now.</p>
    </QueryCard>
  )
}
