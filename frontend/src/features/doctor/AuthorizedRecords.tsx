/** Doctors: what patients shared, with the time left on each grant; open a record; ask for more time. */
import { useState } from 'react'
import type { AuthorizedRecord, ViewedFile } from '../../api/types'
import { Address, Countdown, ErrorNotice, LoadState, Notice, RefreshHeader, SignButton } from '../../components/ui'
import { RECORD_TYPE_LABELS } from '../../lib/format'
import { useLoad } from '../../lib/useLoad'
import { useSession } from '../../session/SessionContext'

function patientOf(r: AuthorizedRecord): string {
  return String(r.patientAddress ?? r.patient ?? '')
}

function Extend({ patient }: { patient: string }) {
  const { api, signAction } = useSession()
  const [days, setDays] = useState(7)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [done, setDone] = useState(false)
  const run = async () => {
    setBusy(true)
    setError(null)
    try {
      const extraSeconds = days * 86_400
      const signed = await signAction('requestExtension', { patientAddress: patient, extra: extraSeconds })
      await api.access.extend({ patientAddress: patient, extraSeconds, signature: signed.signature, nonce: signed.nonce, deadline: signed.deadline })
      setDone(true)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  if (done) return <Notice kind="success">Extension requested; the patient has to approve it.</Notice>
  return (
    <div className="row">
      <label className="field inline">
        <span>Extra days</span>
        <input type="number" min={1} max={365} value={days} onChange={(e) => setDays(Math.max(1, Number(e.target.value) || 1))} />
      </label>
      <SignButton
        variant="secondary"
        onClick={() => void run()}
        busy={busy}
        explain="Signs a “RequestExtension” message (EIP-712); the patient must approve it."
      >
        Sign extension request (+{days} days)
      </SignButton>
      <ErrorNotice error={error} title="Extension not requested" />
    </div>
  )
}

export function AuthorizedRecords() {
  const { api } = useSession()
  const list = useLoad(() => api.access.authorizedRecords(), [api])
  const [opened, setOpened] = useState<{ name: string; file: ViewedFile; url: string } | null>(null)
  const [error, setError] = useState<unknown>(null)
  const records = list.data ?? []
  const patients = [...new Set(records.map(patientOf))]

  const open = async (record: AuthorizedRecord) => {
    setError(null)
    try {
      const file = await api.records.view(record.cid)
      if (opened) URL.revokeObjectURL(opened.url)
      setOpened({ name: record.name ?? record.cid, file, url: URL.createObjectURL(file.blob) })
    } catch (err) {
      // Do not leave an earlier "Verified" result on screen next to the refusal.
      if (opened) URL.revokeObjectURL(opened.url)
      setOpened(null)
      setError(err)
    }
  }

  return (
    <section className="card" aria-labelledby="authorized-title">
      <RefreshHeader id="authorized-title" onRefresh={list.reload}>
        Authorized records
      </RefreshHeader>
      <LoadState
        loaded={list}
        empty={records.length === 0}
        emptyText="No patient has shared records with you, or every grant has expired."
        what="authorized records"
      />
      {patients.map((patient) => (
        <article key={patient} className="card inner">
          <h3>
            Patient <Address value={patient} />
          </h3>
          <table>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Name</th>
                <th scope="col">Access ends</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {records
                .filter((r) => patientOf(r) === patient)
                .map((record) => (
                  <tr key={record.cid}>
                    <td>{RECORD_TYPE_LABELS[record.record_type ?? ''] ?? record.record_type}</td>
                    <td>{record.name ?? <code>{record.cid}</code>}</td>
                    <td>
                      <Countdown until={record.expires_at ?? record.expiresAt} />
                    </td>
                    <td>
                      <button type="button" className="btn btn-small" onClick={() => void open(record)}>
                        Open
                      </button>
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
          <Extend patient={patient} />
        </article>
      ))}
      <ErrorNotice error={error} title="Could not open the record" />
      {opened && (
        <Notice kind={opened.file.integrityVerified && opened.file.blockchainVerified ? 'success' : 'warning'} title={opened.name}>
          {opened.file.integrityVerified && opened.file.blockchainVerified ? 'Verified against the chain. ' : 'Not verified. '}
          <a href={opened.url} download={opened.file.filename}>
            Download {opened.file.filename}
          </a>
        </Notice>
      )}
    </section>
  )
}
