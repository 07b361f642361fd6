/**
 * Doctors: their own access requests and what became of each (pending, approved, denied, replaced),
 * and whether each also asked to add records. When such a request turns approved, the patient may
 * have granted write access with it: the vaults the doctor may write to ("Add a record") refetch.
 */
import { useEffect } from 'react'
import { useDoctorRequests, useInvalidate, usePatientNames } from '../../api/queries'
import type { DoctorRequest } from '../../api/types'
import { DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { Badge } from '../../components/ui'
import { formatDate } from '../../lib/format'
import { PatientName } from './PatientName'

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

/** Ids of the approved requests that also asked to add records, as one comparable key. */
export function approvedWriteAsks(requests: readonly Pick<DoctorRequest, 'id' | 'state' | 'wants_write'>[]): string {
  return requests
    .filter((request) => request.wants_write && request.state === 'approved')
    .map((request) => request.id)
    .sort()
    .join(',')
}

export function MyRequests() {
  const requests = useDoctorRequests()
  const invalidate = useInvalidate()
  const list = requests.data ?? []
  const approvedAsks = approvedWriteAsks(list)
  const names = usePatientNames(list.map((request) => request.patient))
  useEffect(() => {
    if (approvedAsks) void invalidate('doctorWriteGrants')
  }, [approvedAsks, invalidate])
  return (
    <QueryCard id="my-requests-title" title="My requests" emptyText="You have not asked any patient for access yet." what="your requests"
      query={requests} items={list}>
      <DataTable
        rows={list}
        rowKey={(request) => request.id}
        columns={[
          { header: 'Sent', cell: (request) => formatDate(request.created_at) },
          { header: 'Patient', cell: (request) => <PatientName address={request.patient} names={names} /> },
          {
            header: 'Reason',
            cell: (request) => (
              <>
                {request.reason}
                {request.wants_write && <> <Badge kind="neutral">also asks to add records</Badge></>}
              </>
            ),
          },
          { header: 'State', cell: (request) => <StateCell request={request} /> },
        ]}
      />
      <p className="muted small">An approval lasts until it expires or the patient revokes it: “Authorized records” shows what is shared now.</p>
    </QueryCard>
  )
}
