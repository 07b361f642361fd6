/**
 * Doctors: add a record (a prescription, a bill, a report) to the vault of a patient who granted
 * write access: a file, or a structured record filled in as a form (StructuredRecordForm: the FHIR
 * JSON it builds is then handled exactly like a picked file, content type application/fhir+json). The file is fingerprinted on this device (SHA-256 of a fresh random salt and the
 * file, in the hashing worker, as the patient's upload); one wallet prompt, the doctor's
 * `addRecordAsDoctor`; the server encrypts it to the patient's and the doctor's registered keys.
 * The fields (type suggested from the file, name, limits) are the shared record form's; the stages
 * (sign -> sending -> confirming (n of m) -> done) are the chain machine every action shows.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { useAuthoredRecords, useDoctorWriteGrants, useInvalidate } from '../../api/queries'
import { isOnChain, RECORD_TYPES, type MedicalRecord, type RecordType } from '../../api/types'
import { ChainProgress, StageButton } from '../../components/progress/ChainProgress'
import { followConfirmations } from '../../components/progress/confirmations'
import { useChainAction } from '../../components/progress/useChainAction'
import { FileLimitsText, RecordFileInput, RecordNameField, RecordTypeField, useRecordFields } from '../../components/recordForm/RecordFields'
import { Badge, Notice, Progress } from '../../components/ui'
import { formatBytes, formatDate, RECORD_TYPE_LABELS, shortAddress, shortHash } from '../../lib/format'
import { hashFile, type SaltedHash } from '../../lib/hashFile'
import { useSession } from '../../session/SessionContext'
import { doctorUploadMessage, uploadAsDoctor } from './doctorUpload'
import { STRUCTURED_LABELS, StructuredRecordForm } from './StructuredRecordForm'
import { RequestPayment } from '../bills/LazyRequestPayment'
import { parseFhir } from '../../fhir/render'

/** What the doctor adds: a file, or one of the structured records filled in as a form. */
type Source = 'file' | RecordType

type HashState = { state: 'idle' } | { state: 'hashing'; done: number; total: number } | { state: 'done'; value: `0x${string}`; salt: SaltedHash['salt'] } | { state: 'error'; error: unknown }

type Phase =
  | { step: 'form' }
  | { step: 'signing' }
  | { step: 'uploading'; loaded: number; total: number }
  | { step: 'processing' }
  | { step: 'pending'; record: MedicalRecord }
  | { step: 'done'; record: MedicalRecord }

const PENDING_POLL_MS = 3000

export function AddRecord() {
  const { api, signAction, config, session } = useSession()
  const invalidate = useInvalidate()
  const grants = useDoctorWriteGrants()
  const vaults = grants.data ?? []
  const [patient, setPatient] = useState('')
  const fields = useRecordFields('prescription')
  const { file, recordType, name } = fields
  const chain = useChainAction()
  const [hash, setHash] = useState<HashState>({ state: 'idle' })
  const [phase, setPhase] = useState<Phase>({ step: 'form' })
  const [error, setError] = useState<unknown>(null)
  const abort = useRef<AbortController | null>(null)
  const fileInput = useRef<HTMLInputElement>(null)
  const [source, setSource] = useState<Source>('file')
  const [formKey, setFormKey] = useState(0)
  const autoName = useRef('')
  // The previewed Invoice's total, to prefill "Request payment" once the bill record is on chain.
  const [invoiceTotal, setInvoiceTotal] = useState<number | null>(null)

  const chooseSource = (next: Source) => {
    setSource(next)
    fields.pick(null)
    if (fileInput.current) fileInput.current.value = ''
    if (next !== 'file') fields.setRecordType(next)
  }
  // A previewed structured record becomes "the file": fingerprinted, signed and sent like one.
  const structuredReady = (built: { file: File; name: string } | null) => {
    if (!built) {
      fields.pick(null)
      return
    }
    const keepName = name.trim() && name !== autoName.current
    fields.pick(built.file)
    void built.file.text().then((text) => {
      const view = parseFhir(text)
      setInvoiceTotal(view.kind === 'invoice' ? view.total : null)
    })
    if (source !== 'file') fields.setRecordType(source)
    fields.setName(keepName ? name : built.name)
    autoName.current = built.name
  }

  // One patient to choose from: chosen already.
  useEffect(() => {
    if (!patient && vaults.length === 1) setPatient(vaults[0].patientAddress)
  }, [patient, vaults])

  // Fingerprint the file as soon as it is picked (a fresh salt each time).
  useEffect(() => {
    if (!file) {
      setHash({ state: 'idle' })
      return
    }
    const controller = new AbortController()
    setHash({ state: 'hashing', done: 0, total: file.size })
    hashFile(file, (done, total) => setHash({ state: 'hashing', done, total }), controller.signal).then(
      ({ contentHash, salt }) => !controller.signal.aborted && setHash({ state: 'done', value: contentHash, salt }),
      (err) => !controller.signal.aborted && setHash({ state: 'error', error: err }),
    )
    return () => controller.abort()
  }, [file])

  // Sent but not mined yet: the authored list polls until the record is on chain.
  const waiting = phase.step === 'pending' ? phase.record : null
  const authored = useAuthoredRecords({ settlingPollMs: waiting ? PENDING_POLL_MS : 0 })
  // Mined: count the blocks on top until the server calls it confirmed, then done.
  const finish = async (record: MedicalRecord) => {
    const txHash = record.tx_hash
    const confirmations = txHash
      ? await followConfirmations(api.system.transaction, txHash, (count) => chain.dispatch({ type: 'confirming', txHash, confirmations: count }))
      : null
    chain.dispatch({ type: 'done', txHash, confirmations })
    setPhase({ step: 'done', record })
  }
  const finishing = useRef<string | null>(null)
  useEffect(() => {
    const found = waiting && authored.data?.find((r) => r.cid === waiting.cid)
    if (found && isOnChain(found) && finishing.current !== found.cid) {
      finishing.current = found.cid
      void finish(found)
    }
  }, [waiting, authored.data])

  const reset = () => {
    fields.reset()
    setFormKey((k) => k + 1)
    autoName.current = ''
    if (source !== 'file') fields.setRecordType(source)
    chain.reset()
    finishing.current = null
    setPhase({ step: 'form' })
    setError(null)
    if (fileInput.current) fileInput.current.value = ''
  }

  const busy = phase.step === 'signing' || phase.step === 'uploading' || phase.step === 'processing'
  const chosen = vaults.find((g) => g.patientAddress === patient)
  const ready = !!chosen && !!file && hash.state === 'done' && name.trim().length > 0 && !busy

  const submit = async (event?: FormEvent) => {
    event?.preventDefault()
    if (!ready || !file || hash.state !== 'done') return
    setError(null)
    setPhase({ step: 'signing' })
    chain.dispatch({ type: 'start' })
    abort.current = new AbortController()
    try {
      const { status, body } = await uploadAsDoctor(
        { patientAddress: patient, file, recordType, name, contentHash: hash.value, salt: hash.salt },
        {
          api,
          signAction,
          onSigned: () => {
            chain.dispatch({ type: 'signed' })
            setPhase({ step: 'uploading', loaded: 0, total: file.size })
          },
          onProgress: (p) => setPhase(p.phase === 'processing' ? { step: 'processing' } : { step: 'uploading', loaded: p.loaded, total: p.total }),
          signal: abort.current.signal,
        },
      )
      void invalidate('authored')
      if (status === 202 || !isOnChain(body)) {
        chain.dispatch({ type: 'confirming', txHash: body.tx_hash })
        setPhase({ step: 'pending', record: body })
      } else {
        await finish(body)
      }
    } catch (err) {
      chain.dispatch({ type: 'failed', error: err })
      setError(err)
      setPhase({ step: 'form' })
    } finally {
      abort.current = null
    }
  }

  const who = chosen ? `${chosen.patientName ?? 'the patient'} (${shortAddress(chosen.patientAddress)})` : 'this patient'

  if (phase.step === 'done' || phase.step === 'pending') {
    const record = phase.record
    return (
      <section className="card" aria-labelledby="add-record-title">
        <h2 id="add-record-title">Add a record</h2>
        {phase.step === 'done' ? (
          <Notice kind="success" title="Added to the patient's vault">
            “{record.name}” is encrypted for the patient and for you, pinned to IPFS, and its fingerprint is recorded on the chain with you
            as its author{record.record_id !== null && record.record_id !== undefined ? ` as record #${record.record_id}` : ''}.
          </Notice>
        ) : (
          <Notice kind="info" title="Waiting for the transaction">
            “{record.name}” is encrypted and pinned; the transaction that anchors its fingerprint is sent but not mined yet. This page updates
            when it is confirmed.
          </Notice>
        )}
        <ChainProgress state={chain.state} label="Progress of the record" />
        <dl className="facts">
          <dt>Fingerprint (salted SHA-256)</dt>
          <dd>
            <code>{record.content_hash}</code>
          </dd>
          <dt>IPFS CID</dt>
          <dd>
            <code>{record.cid}</code>
          </dd>
        </dl>
        {phase.step === 'done' && record.record_type === 'bill' && record.record_id !== null && record.record_id !== undefined && (
          <RequestPayment patient={record.patient ?? patient} recordId={record.record_id} invoiceTotal={invoiceTotal} />
        )}
        <button type="button" className="btn btn-secondary" onClick={reset}>
          Add another record
        </button>
      </section>
    )
  }

  return (
    <section className="card" aria-labelledby="add-record-title">
      <h2 id="add-record-title">Add a record</h2>
      <p>
        For patients who let you add records to their vault. The patient sees it in their records as added by you; you can open it
        while your write access or a read approval lasts.
      </p>
      <form onSubmit={submit} className="stack">
        <fieldset disabled={busy}>
          <legend>1. Patient and record</legend>
          {grants.isSuccess && vaults.length === 0 && (
            <Notice kind="info">No patient has given you write access right now. A patient can allow it from their Sharing screen.</Notice>
          )}
          <label className="field">
            <span>Patient</span>
            <select value={patient} onChange={(e) => setPatient(e.target.value)}>
              <option value="">{grants.isPending ? 'Loading…' : 'Choose a patient'}</option>
              {vaults.map((grant) => (
                <option key={grant.patientAddress} value={grant.patientAddress}>
                  {grant.patientName ?? 'Patient'} {shortAddress(grant.patientAddress)} (until {formatDate(grant.expiresAt)})
                </option>
              ))}
            </select>
          </label>
          <fieldset className="choice-group">
            <legend>What to add</legend>
            {(['file', ...RECORD_TYPES] as Source[]).map((option) => (
              <label key={option} className="check">
                <input type="radio" name="add-source" value={option} checked={source === option} onChange={() => chooseSource(option)} />
                <span>{option === 'file' ? 'Upload a file' : STRUCTURED_LABELS[option]}</span>
              </label>
            ))}
          </fieldset>
          {source === 'file' ? (
            <>
              <RecordFileInput inputRef={fileInput} onFiles={(files) => fields.pick(files[0] ?? null)} />
              <p className="hint">
                <FileLimitsText maxBytes={config.max_upload_bytes} /> The type is suggested from the file's name; change it if it is wrong.
              </p>
              <RecordTypeField value={recordType} onChange={fields.setRecordType} />
            </>
          ) : (
            <StructuredRecordForm key={`${source}-${formKey}`} kind={source} patient={patient} doctor={session?.address ?? ''} onReady={structuredReady} />
          )}
          <RecordNameField value={name} onChange={fields.setName} placeholder="e.g. Amoxicillin 500 mg" hint="The patient, and the doctors they share it with, see this name." />
          {file && (
            <div className="file-facts">
              <span>{formatBytes(file.size)}</span>
              {hash.state === 'hashing' && <Progress value={hash.done} max={hash.total} label="Computing the file's fingerprint on this device" />}
              {hash.state === 'done' && (
                <span>
                  <Badge kind="ok">Fingerprint ready</Badge> <code title={hash.value}>{shortHash(hash.value, 12)}</code>
                </span>
              )}
              {hash.state === 'error' && <Notice kind="error" title="Could not read the file">{doctorUploadMessage(hash.error)}</Notice>}
            </div>
          )}
        </fieldset>

        <fieldset>
          <legend>2. Authorise and send</legend>
          <StageButton
            onClick={() => void submit()}
            disabled={!ready}
            stage={chain.state.stage}
            explain={
              `Your wallet signs an “AddRecordAsDoctor” authorisation (EIP-712) naming ${who}, the record type` +
              `${file ? ` (${RECORD_TYPE_LABELS[recordType]})` : ''} and this file's fingerprint${hash.state === 'done' ? ` ${shortHash(hash.value)}` : ''}, ` +
              'with a one-time number and an expiry. It lets HealthLedger add that fingerprint to the patient\'s vault with you as its author ' +
              'and pay the fee; it cannot be used for any other file or patient. HealthLedger then encrypts the file to the patient\'s and your ' +
              'encryption keys and stores only the encrypted copy. No other signature is needed.'
            }
          >
            Sign AddRecordAsDoctor and send
          </StageButton>
          <ChainProgress state={chain.state} label="Progress of the record" />
        </fieldset>
      </form>

      {phase.step === 'uploading' && (
        <div className="stack">
          <Progress value={phase.loaded} max={phase.total} label="Uploading" />
          <button type="button" className="btn btn-secondary" onClick={() => abort.current?.abort()}>
            Cancel upload
          </button>
        </div>
      )}
      {phase.step === 'processing' && (
        <div aria-live="polite">
          <Progress value={0} max={0} label="Encrypting, pinning and waiting for the transaction to be mined…" />
        </div>
      )}
      {error !== null && (
        <Notice kind="error" title="The record was not added">
          {doctorUploadMessage(error)}
        </Notice>
      )}
    </section>
  )
}
