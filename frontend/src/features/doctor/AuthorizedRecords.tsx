/** Doctors: what patients shared, with the time left on each grant; open a record; ask for more time. */
import { useMutation } from '@tanstack/react-query'
import { useState } from 'react'
import { useAuthorizedRecords } from '../../api/queries'
import type { AuthorizedRecord, ViewedFile } from '../../api/types'
import { ACTIONS_HEADER, DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { Address, Countdown, ErrorNotice, Notice, SignButton } from '../../components/ui'
import { recordTypeLabel } from '../../lib/format'
import { useSession } from '../../session/SessionContext'

function Extend({ patient }: { patient: string }) {
  const { api, signAction } = useSession()
  const [days, setDays] = useState(7)
  const extend = useMutation({
    mutationFn: async () => {
      const extraSeconds = days * 86_400
      const signed = await signAction('requestExtension', { patientAddress: patient, extra: extraSeconds })
      await api.access.extend({ patientAddress: patient, extraSeconds, signature: signed.signature, nonce: signed.nonce, deadline: signed.deadline })
    },
  })
  if (extend.isSuccess) return <Notice kind="success">Extension requested; the patient has to approve it.</Notice>
  return (
    <div className="row">
      <label className="field inline">
        <span>Extra days</span>
        <input type="number" min={1} max={365} value={days} onChange={(e) => setDays(Math.max(1, Number(e.target.value) || 1))} />
      </label>
      <SignButton
        variant="secondary"
        onClick={() => extend.mutate()}
        busy={extend.isPending}
        explain="Signs a “RequestExtension” message (EIP-712); the patient must approve it."
      >
        Sign extension request (+{days} days)
      </SignButton>
      <ErrorNotice error={extend.error} title="Extension not requested" />
    </div>
  )
}

function PatientGrant({ patient, records, onOpen }: { patient: string; records: AuthorizedRecord[]; onOpen: (record: AuthorizedRecord) => void }) {
  return (
    <article className="card inner">
      <h3>
        Patient <Address value={patient} />
      </h3>
      <DataTable
        wrap={false}
        rows={records}
        rowKey={(record) => record.cid}
        columns={[
          { header: 'Type', cell: (record) => recordTypeLabel(record.record_type) },
          { header: 'Name', cell: (record) => record.name ?? <code>{record.cid}</code> },
          { header: 'Access ends', cell: (record) => <Countdown until={record.expires_at} /> },
          {
            header: ACTIONS_HEADER,
            cell: (record) => (
              <button type="button" className="btn btn-small" onClick={() => onOpen(record)}>
                Open
              </button>
            ),
          },
        ]}
      />
      <Extend patient={patient} />
    </article>
  )
}

export function AuthorizedRecords() {
  const { api } = useSession()
  const list = useAuthorizedRecords()
  const [opened, setOpened] = useState<{ name: string; file: ViewedFile; url: string } | null>(null)
  const records = list.data ?? []
  const patients = [...new Set(records.map((record) => record.patient))]

  // Opening is a read of one file, not cached data: a mutation only for its error state.
  const open = useMutation({
    mutationFn: (record: AuthorizedRecord) => api.records.view(record.cid),
    onSuccess: (file, record) => {
      if (opened) URL.revokeObjectURL(opened.url)
      setOpened({ name: record.name ?? record.cid, file, url: URL.createObjectURL(file.blob) })
    },
    onError: () => {
      // Do not leave an earlier "Verified" result on screen next to the refusal.
      if (opened) URL.revokeObjectURL(opened.url)
      setOpened(null)
    },
  })

  const result = (
    <>
      <ErrorNotice error={open.error} title="Could not open the record" />
      {opened && (
        <Notice kind={opened.file.integrityVerified && opened.file.blockchainVerified ? 'success' : 'warning'} title={opened.name}>
          {opened.file.integrityVerified && opened.file.blockchainVerified ? 'Verified against the chain. ' : 'Not verified. '}
          <a href={opened.url} download={opened.file.filename}>
            Download {opened.file.filename}
          </a>
        </Notice>
      )}
    </>
  )
  return (
    <QueryCard id="authorized-title" title="Authorized records" emptyText="No patient has shared records with you, or every grant has expired." what="authorized records"
      query={list} items={records} footer={result}>
      {patients.map((patient) => (
        <PatientGrant key={patient} patient={patient} records={records.filter((r) => r.patient === patient)} onOpen={(record) => open.mutate(record)} />
      ))}
    </QueryCard>
  )
}
