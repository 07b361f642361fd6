/** Doctors: their own access requests and what became of each (pending, approved, denied, replaced). */
import type { DoctorRequest } from '../../api/types'
import { Address, Badge, LoadState, RefreshHeader } from '../../components/ui'
import { formatDate } from '../../lib/format'
import { useLoad } from '../../lib/useLoad'
import { useSession } from '../../session/SessionContext'

const STATE: Record<DoctorRequest['state'], { kind: 'ok' | 'warn' | 'bad' | 'neutral'; label: string }> = {
  pending: { kind: 'warn', label: 'waiting for the patient' },
  approved: { kind: 'ok', label: 'approved' },
  denied: { kind: 'bad', label: 'denied' },
  superseded: { kind: 'neutral', label: 'replaced by a newer request' },
}

export function MyRequests({ refreshKey = 0 }: { refreshKey?: number }) {
  const { api } = useSession()
  const requests = useLoad(() => api.access.doctorRequests(), [api, refreshKey])
  const list = requests.data ?? []
  return (
    <section className="card" aria-labelledby="my-requests-title">
      <RefreshHeader id="my-requests-title" onRefresh={requests.reload}>
        My requests
      </RefreshHeader>
      <LoadState
        loaded={requests}
        empty={list.length === 0}
        emptyText="You have not asked any patient for access yet."
        what="your requests"
      />
      {list.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Sent</th>
                <th scope="col">Patient</th>
                <th scope="col">Reason</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {list.map((request) => {
                const state = STATE[request.state] ?? { kind: 'neutral' as const, label: request.state }
                return (
                  <tr key={request.id}>
                    <td>{formatDate(request.created_at)}</td>
                    <td>
                      <Address value={request.patient} />
                    </td>
                    <td>{request.reason}</td>
                    <td>
                      <Badge kind={state.kind}>{state.label}</Badge>
                      {request.responded_at && <span className="muted small"> {formatDate(request.responded_at)}</span>}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
          <p className="muted small">An approval lasts until it expires or the patient revokes it: “Authorized records” shows what is shared now.</p>
        </div>
      )}
    </section>
  )
}
