/**
 * Patients: "Import (FHIR)" beside "Export (FHIR)" on My records. A Bundle file from another provider
 * goes to POST /api/fhir/import/prepare (which stores nothing); the patient then sees what it becomes
 * (each record's type and name) and what is refused (each entry's message), and "Import n records"
 * signs one AddRecord per record and uploads each through the ordinary upload (importBundle.ts), with
 * "k of n" progress and each record's outcome. My records refreshes as records land.
 */
import { useRef, useState } from 'react'
import { readableError } from '../../api/errors'
import { useInvalidate } from '../../api/queries'
import { isOnChain, type ImportPlan, type MedicalRecord } from '../../api/types'
import { Badge, ErrorNotice, Notice } from '../../components/ui'
import { hashFile } from '../../lib/hashFile'
import { recordTypeLabel } from '../../lib/format'
import { useSession } from '../../session/SessionContext'
import { importRecords, type ImportOutcome } from './importBundle'

const ON_CHAIN_POLL_MS = 1500
const ON_CHAIN_TIMEOUT_MS = 5 * 60_000

type Step = { step: 'idle' } | { step: 'preparing'; fileName: string } | { step: 'plan'; fileName: string; plan: ImportPlan } | { step: 'error'; error: unknown }

export function useBundleImport() {
  const { api, keySignature, signKeyMessage, signAction } = useSession()
  const invalidate = useInvalidate()
  const [step, setStep] = useState<Step>({ step: 'idle' })
  const [outcomes, setOutcomes] = useState<ImportOutcome[]>([])
  const [running, setRunning] = useState(false)
  const [finished, setFinished] = useState<number | null>(null)

  const choose = async (file: File) => {
    setOutcomes([])
    setFinished(null)
    setStep({ step: 'preparing', fileName: file.name })
    try {
      const plan = await api.fhir.importPrepare(await file.text())
      setStep({ step: 'plan', fileName: file.name, plan })
    } catch (error) {
      setStep({ step: 'error', error })
    }
  }

  const waitOnChain = async (cid: string): Promise<MedicalRecord | null> => {
    const until = Date.now() + ON_CHAIN_TIMEOUT_MS
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, ON_CHAIN_POLL_MS))
      const found = (await api.records.patientRecords().catch(() => [])).find((r) => r.cid === cid)
      if (found && isOnChain(found)) return found
    }
    return null
  }

  const run = async () => {
    if (step.step !== 'plan' || running) return
    const records = step.plan.records
    setRunning(true)
    setOutcomes(records.map(() => ({ state: 'waiting' })))
    try {
      const walletSignature = keySignature ?? (await signKeyMessage())
      const done = await importRecords(records, {
        hash: (file) => hashFile(file, () => {}),
        sign: (recordType, contentHash) => signAction('addRecord', { recordType, contentHash }),
        upload: (fields) => api.records.upload({ ...fields, walletSignature }),
        waitOnChain,
        onChange: (index, outcome) => {
          setOutcomes((list) => list.map((o, i) => (i === index ? outcome : o)))
          if (outcome.state === 'done') void invalidate('records', 'patientAudit')
        },
      })
      setFinished(done)
    } catch (error) {
      setStep({ step: 'error', error })
    } finally {
      setRunning(false)
      void invalidate('records', 'patientAudit')
    }
  }

  const close = () => {
    if (running) return
    setStep({ step: 'idle' })
    setOutcomes([])
    setFinished(null)
  }
  return { step, outcomes, running, finished, choose, run, close }
}

export type BundleImport = ReturnType<typeof useBundleImport>

export function ImportButton({ importer }: { importer: BundleImport }) {
  const input = useRef<HTMLInputElement>(null)
  return (
    <>
      <button
        type="button"
        className="btn btn-secondary"
        onClick={() => input.current?.click()}
        disabled={importer.running || importer.step.step === 'preparing'}
        title="Add the records of a FHIR R4 Bundle from another health system to your vault"
      >
        {importer.step.step === 'preparing' ? 'Reading the Bundle…' : 'Import (FHIR)'}
      </button>
      <input
        ref={input}
        type="file"
        hidden
        aria-label="FHIR Bundle to import"
        data-testid="fhir-import-input"
        accept=".json,application/json,application/fhir+json"
        onChange={(e) => {
          const file = e.target.files?.[0]
          e.target.value = ''
          if (file) void importer.choose(file)
        }}
      />
    </>
  )
}

function OutcomeText({ outcome }: { outcome: ImportOutcome | undefined }) {
  if (!outcome || outcome.state === 'waiting') return <Badge kind="neutral">to import</Badge>
  if (outcome.state === 'running') return <Badge kind="warn">signing and uploading…</Badge>
  if (outcome.state === 'done') return <Badge kind="ok">✓ imported</Badge>
  return <Badge kind="bad">✗ not imported: {readableError(outcome.error)}</Badge>
}

export function ImportPanel({ importer }: { importer: BundleImport }) {
  const { step, outcomes, running, finished } = importer
  if (step.step === 'error') {
    return (
      <div className="stack">
        <ErrorNotice error={step.error} title="Could not import the Bundle" />
        <p>
          <button type="button" className="btn btn-secondary" onClick={importer.close}>
            Close
          </button>
        </p>
      </div>
    )
  }
  if (step.step !== 'plan') return null
  const { records, refused } = step.plan
  const current = outcomes.findIndex((o) => o.state === 'running')
  return (
    <section className="import-plan stack" aria-labelledby="import-title">
      <h3 id="import-title">Import from {step.fileName}</h3>
      <p>
        {records.length === 0
          ? 'Nothing in this Bundle can be imported.'
          : `${records.length} record${records.length === 1 ? '' : 's'} will be added to your vault, authored by you with their source noted. Each is encrypted, pinned and anchored like an upload; your wallet signs one “AddRecord” for each.`}
      </p>
      {records.length > 0 && (
        <ul className="import-list" aria-label="Records to import">
          {records.map((record, index) => (
            <li key={record.index}>
              <strong>{recordTypeLabel(record.recordType)}</strong>: {record.name} <span className="muted small">({record.resourceType})</span>{' '}
              <OutcomeText outcome={outcomes[index]} />
            </li>
          ))}
        </ul>
      )}
      {refused.length > 0 && (
        <>
          <h4>Not imported ({refused.length})</h4>
          <ul className="import-list" aria-label="Entries not imported">
            {refused.map((entry) => (
              <li key={entry.index}>
                Entry {entry.index + 1}
                {entry.resourceType ? ` (${entry.resourceType})` : ''}: {entry.message}
              </li>
            ))}
          </ul>
        </>
      )}
      {running && (
        <p role="status">
          Importing {current < 0 ? outcomes.filter((o) => o.state === 'done' || o.state === 'failed').length : current + 1} of {records.length}…
        </p>
      )}
      {finished !== null && (
        <Notice kind={finished === records.length ? 'success' : 'warning'} title="Import finished">
          Imported {finished} of {records.length} record{records.length === 1 ? '' : 's'}.
        </Notice>
      )}
      <p>
        {finished === null && records.length > 0 && (
          <button type="button" className="btn btn-primary" onClick={() => void importer.run()} disabled={running}>
            {running ? 'Importing…' : `Import ${records.length} record${records.length === 1 ? '' : 's'}`}
          </button>
        )}{' '}
        <button type="button" className="btn btn-secondary" onClick={importer.close} disabled={running}>
          {finished === null ? 'Cancel' : 'Close'}
        </button>
      </p>
    </section>
  )
}
