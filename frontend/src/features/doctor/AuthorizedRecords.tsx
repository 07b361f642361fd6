/**
 * Doctors: what patients shared, with the time left on each grant; open or verify a record (with the
 * doctor's own key signature, see useRecordReader); export what a patient shares as FHIR; ask for more time.
 */
import { useMutation } from '@tanstack/react-query'
import { useId, useState, type ReactNode } from 'react'
import { useAuthorizedRecords, usePatientNames } from '../../api/queries'
import type { AuthorizedRecord } from '../../api/types'
import { ACTIONS_HEADER, DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { FhirExportButton, sharedExportFileName } from '../../components/fhir/FhirExportButton'
import { ChainProgress, StageButton, TxLink } from '../../components/progress/ChainProgress'
import { useChainAction } from '../../components/progress/useChainAction'
import { Countdown, ErrorNotice, Notice } from '../../components/ui'
import { IntegrityBadge } from '../patient/Records'
import { PatientName } from './PatientName'
import { KeySignatureHint, OpenResult, useRecordReader } from './useRecordReader'
import { recordTypeLabel } from '../../lib/format'
import { useSession } from '../../session/SessionContext'

function Extend({ patient }: { patient: string }) {
  const { api, signAction } = useSession()
  const [days, setDays] = useState(7)
  const chain = useChainAction()
  const extend = useMutation({
    mutationFn: () =>
      chain.run(async (step) => {
        const extraSeconds = days * 86_400
        const signed = await signAction('requestExtension', { patientAddress: patient, extra: extraSeconds })
        step.signed()
        return api.access.extend({ patientAddress: patient, extraSeconds, signature: signed.signature, nonce: signed.nonce, deadline: signed.deadline })
      }),
  })
  if (extend.isSuccess)
    return (
      <Notice kind="success">
        Extension requested; the patient has to approve it. <TxLink hash={extend.data.tx_hash} />
      </Notice>
    )
  return (
    <div className="row">
      <label className="field inline">
        <span>Extra days</span>
        <input type="number" min={1} max={365} value={days} onChange={(e) => setDays(Math.max(1, Number(e.target.value) || 1))} />
      </label>
      <StageButton
        variant="secondary"
        onClick={() => extend.mutate()}
        stage={chain.state.stage}
        explain="Signs a “RequestExtension” message (EIP-712); the patient must approve it."
      >
        Sign extension request (+{days} days)
      </StageButton>
      <ChainProgress state={chain.state} />
      <ErrorNotice error={extend.error} title="Extension not requested" />
    </div>
  )
}

type Reader = ReturnType<typeof useRecordReader>

function PatientGrant({ patient, name, records, reader }: { patient: string; name: ReactNode; records: AuthorizedRecord[]; reader: Reader }) {
  const signs = reader.keySignature ? '' : ' (signs key message)'
  const headingId = useId()
  return (
    <article className="card inner" aria-labelledby={headingId}>
      <h3 id={headingId}>Patient {name}</h3>
      <DataTable
        wrap={false}
        rows={records}
        rowKey={(record) => record.cid}
        columns={[
          { header: 'Type', cell: (record) => recordTypeLabel(record.record_type) },
          { header: 'Name', cell: (record) => record.name ?? <code>{record.cid}</code> },
          { header: 'Access ends', cell: (record) => <Countdown until={record.expires_at} /> },
          { header: 'Integrity', cell: (record) => <IntegrityBadge value={reader.integrity[record.cid]} /> },
          {
            header: ACTIONS_HEADER,
            className: 'actions',
            cell: (record) => (
              <>
                <button type="button" className="btn btn-small" onClick={() => reader.open(record)} disabled={reader.opening !== null}>
                  {reader.opening === record.cid ? 'Opening…' : `Open${signs}`}
                </button>
                <button type="button" className="btn btn-small btn-secondary" onClick={() => void reader.verify(record)}>
                  Verify
                </button>
              </>
            ),
          },
        ]}
      />
      <div className="row">
        <FhirExportButton fileName={sharedExportFileName(patient)} patient={patient} label="Export shared (FHIR)"
          title="The verified records this patient shares with you now, as one FHIR R4 Bundle for your own system" />
      </div>
      <Extend patient={patient} />
    </article>
  )
}

export function AuthorizedRecords() {
  const list = useAuthorizedRecords()
  const reader = useRecordReader()
  const records = list.data ?? []
  // One card per patient (their published name when they have one), with that patient's records.
  const patients = [...new Set(records.map((record) => record.patient))]
  const names = usePatientNames(patients)
  return (
    <QueryCard id="authorized-title" title="Authorized records" emptyText="No patient has shared records with you, or every grant has expired." what="authorized records"
      query={list} items={records} intro={<KeySignatureHint show={!reader.keySignature && records.length > 0} />} footer={<OpenResult reader={reader} />}>
      {patients.map((patient) => (
        <PatientGrant key={patient} patient={patient} name={<PatientName address={patient} names={names} />} records={records.filter((r) => r.patient === patient)} reader={reader} />
      ))}
    </QueryCard>
  )
}
