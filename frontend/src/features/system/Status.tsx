/** Service status: MongoDB, IPFS, the chain and the relayer, as the backend sees them. */
import { useSystemStatus } from '../../api/queries'
import type { DependencyStatus } from '../../api/types'
import { DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { Badge } from '../../components/ui'

function Details({ dep }: { dep: DependencyStatus }) {
  const { state: _state, latency_ms: _latency, ...details } = dep
  return Object.entries(details).map(([key, value]) => (
    <div key={key}>
      {key}: <code>{String(value)}</code>
    </div>
  ))
}

export function Status() {
  const status = useSystemStatus()
  const deps = Object.entries(status.data?.dependencies ?? {})
  const title = <>Service status {status.data && <Badge kind={status.data.status === 'ok' ? 'ok' : 'warn'}>{status.data.status}</Badge>}</>
  return (
    <QueryCard id="status-title" title={title} query={status} items={deps} emptyText="" what="service status">
      <DataTable
        wrap={false}
        rows={deps}
        rowKey={([name]) => name}
        columns={[
          { header: 'Service', cell: ([name]) => name },
          { header: 'State', cell: ([, dep]) => <Badge kind={dep.state === 'ok' ? 'ok' : 'bad'}>{dep.state}</Badge> },
          { header: 'Latency', cell: ([, dep]) => (dep.latency_ms !== undefined ? `${dep.latency_ms} ms` : '') },
          { header: 'Details', cell: ([, dep]) => <Details dep={dep} />, className: 'small' },
        ]}
      />
    </QueryCard>
  )
}
