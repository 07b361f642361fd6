/**
 * Doctors: the patients who let them add records now (write grants, read from the chain), until
 * when; "Add a record" (its own tab) adds a file to one of these vaults.
 */
import { useDoctorWriteGrants } from '../../api/queries'
import { DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { Address, Countdown } from '../../components/ui'
import { formatDate } from '../../lib/format'

export function WritableVaults() {
  const grants = useDoctorWriteGrants()
  const list = grants.data ?? []
  return (
    <QueryCard id="writable-title" title="Patients who let you add records" emptyText="No patient has given you write access." what="write grants"
      query={grants} items={list}>
      <DataTable
        rows={list}
        rowKey={(grant) => grant.patientAddress}
        columns={[
          { header: 'Patient', cell: (grant) => <>{grant.patientName ?? 'Patient'} <Address value={grant.patientAddress} /></> },
          { header: 'You may add records until', cell: (grant) => <>{formatDate(grant.expiresAt)} <Countdown until={grant.expiresAt} /></> },
        ]}
      />
      <p className="muted small">
        Write access lets you add records to these patients' vaults (<a href="#/add">Add a record</a>); of their records you can open only those you
        added or they shared with you.
      </p>
    </QueryCard>
  )
}
