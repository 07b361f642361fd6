/**
 * Doctors: the records they added to patients' vaults (GET /api/medical-records/doctor/authored),
 * newest first. They can open or verify one while the chain lets them read it (a live write grant
 * from its patient, or a read approval for it); otherwise the row says their access has ended.
 */
import { useState } from 'react'
import { useAuthoredRecords, useAuthorizedRecords, useDoctorWriteGrants, usePatientNames } from '../../api/queries'
import { isOnChain, type MedicalRecord } from '../../api/types'
import { ACTIONS_HEADER, DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { Badge } from '../../components/ui'
import { formatDate, recordTypeLabel } from '../../lib/format'
import { IntegrityBadge } from '../patient/Records'
import { authorMayRead } from './doctorUpload'
import { PatientName } from './PatientName'
import { KeySignatureHint, OpenResult, useRecordReader } from './useRecordReader'
import { AmendRecord, canAmend } from './AmendRecord'
import { RequestPayment } from '../bills/LazyRequestPayment'
import { currentVersionOf, SupersededNote } from '../../components/fhir/Superseded'

function StateCell({ record }: { record: MedicalRecord }) {
  const id = record.record_id !== null && record.record_id !== undefined ? ` #${record.record_id}` : ''
  if (record.state === 'confirmed') return <Badge kind="ok">confirmed{id}</Badge>
  if (record.state === 'anchored') return <Badge kind="warn">anchored{id}, confirming</Badge>
  if (record.state === 'unanchored') return <Badge kind="bad" title={record.unanchored_reason ?? undefined}>not on chain</Badge>
  return <Badge kind="warn">waiting for transaction</Badge>
}

export function AuthoredRecords() {
  const list = useAuthoredRecords({ settlingPollMs: 5000 })
  const writeGrants = useDoctorWriteGrants()
  const authorized = useAuthorizedRecords()
  const reader = useRecordReader()
  const records = list.data ?? []
  const names = usePatientNames(records.map((record) => record.patient))
  const signs = reader.keySignature ? '' : ' (signs key message)'
  const [amending, setAmending] = useState<MedicalRecord | null>(null)
  const [billing, setBilling] = useState<MedicalRecord | null>(null)
  const amendCurrent = (cid: string) => setAmending(records.find((r) => r.cid === cid) ?? null)
  const footer = (
    <>
      {billing && billing.record_id !== null && billing.record_id !== undefined && (
        <section className="card" aria-label="Request payment">
          <RequestPayment key={billing.cid} patient={billing.patient} recordId={billing.record_id} onClose={() => setBilling(null)} />
        </section>
      )}
      {amending && <AmendRecord key={amending.cid} record={amending} onClose={() => setAmending(null)} onOpenCurrent={amendCurrent} />}
      <OpenResult reader={reader} />
    </>
  )
  return (
    <QueryCard id="authored-title" title="Records you added" emptyText="You have not added a record to any patient's vault yet." what="records you added"
      query={list} items={records} intro={<KeySignatureHint show={!reader.keySignature && records.length > 0} />} footer={footer}>
      <DataTable
        rows={records}
        rowKey={(record) => record.cid}
        columns={[
          { header: 'Patient', cell: (record) => <PatientName address={record.patient} names={names} /> },
          { header: 'Type', cell: (record) => recordTypeLabel(record.record_type) },
          {
            header: 'Name',
            cell: (record) => (
              <>
                {record.name}
                <SupersededNote record={record} current={currentVersionOf(record, records)} onOpen={(current) => reader.open(current)} />
              </>
            ),
          },
          { header: 'Added', cell: (record) => formatDate(record.created_at) },
          { header: 'State', cell: (record) => <StateCell record={record} /> },
          { header: 'Integrity', cell: (record) => <IntegrityBadge value={reader.integrity[record.cid]} /> },
          {
            header: ACTIONS_HEADER,
            className: 'actions',
            cell: (record) =>
              authorMayRead(record, writeGrants.data, authorized.data) === 'no' ? (
                <span className="muted small">Your access has ended</span>
              ) : (
                <>
                  <button type="button" className="btn btn-small" onClick={() => reader.open(record)} disabled={!isOnChain(record) || reader.opening !== null}>
                    {reader.opening === record.cid ? 'Opening…' : `Open${signs}`}
                  </button>
                  <button type="button" className="btn btn-small btn-secondary" onClick={() => void reader.verify(record)} disabled={!isOnChain(record)}>
                    Verify
                  </button>
                  {record.record_type === 'bill' && isOnChain(record) && (
                    <button type="button" className="btn btn-small btn-secondary" onClick={() => setBilling(record)} aria-label={`Request payment for ${record.name}`}>
                      Request payment
                    </button>
                  )}
                  {canAmend(record) && (
                    <button type="button" className="btn btn-small btn-secondary" onClick={() => setAmending(record)} aria-label={`Amend ${record.name}`}>
                      Amend
                    </button>
                  )}
                </>
              ),
          },
        ]}
      />
    </QueryCard>
  )
}
