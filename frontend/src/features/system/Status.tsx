/** Service status: MongoDB, IPFS, the chain and the relayer, as the backend sees them. */
import { Badge, LoadState, RefreshHeader } from '../../components/ui'
import { useLoad } from '../../lib/useLoad'
import { useSession } from '../../session/SessionContext'

export function Status() {
  const { api } = useSession()
  const status = useLoad(() => api.system.status(), [api])
  const deps = Object.entries(status.data?.dependencies ?? {})
  return (
    <section className="card" aria-labelledby="status-title">
      <RefreshHeader id="status-title" onRefresh={status.reload}>
        Service status {status.data && <Badge kind={status.data.status === 'ok' ? 'ok' : 'warn'}>{status.data.status}</Badge>}
      </RefreshHeader>
      <LoadState loaded={status} empty={false} emptyText="" what="service status" />
      {deps.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">State</th>
              <th scope="col">Latency</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {deps.map(([name, dep]) => {
              const { state, latency_ms, ...details } = dep
              return (
                <tr key={name}>
                  <td>{name}</td>
                  <td>
                    <Badge kind={state === 'ok' ? 'ok' : 'bad'}>{state}</Badge>
                  </td>
                  <td>{latency_ms !== undefined ? `${latency_ms} ms` : ''}</td>
                  <td className="small">
                    {Object.entries(details).map(([key, value]) => (
                      <div key={key}>
                        {key}: <code>{String(value)}</code>
                      </div>
                    ))}
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </section>
  )
}
