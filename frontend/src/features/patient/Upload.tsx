/**
 * Upload: pick a file, fingerprint it on this device (SHA-256 of a fresh random salt followed by the
 * file, so the fingerprint on the chain reveals nothing guessable), unlock the encryption key, sign
 * the AddRecord authorisation for that fingerprint, send the file and its salt with progress, wait
 * for the transaction.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react'
import type { MedicalRecord, RecordType } from '../../api/types'
import { isOnChain, RECORD_TYPES } from '../../api/types'
import { Badge, ErrorNotice, Notice, Progress, SignButton } from '../../components/ui'
import { formatBytes, RECORD_TYPE_LABELS, shortHash } from '../../lib/format'
import { hashFile, type SaltedHash } from '../../lib/hashFile'
import { useInvalidate, usePatientRecords } from '../../api/queries'
import { useSession } from '../../session/SessionContext'
import { KeySignatureStep } from './KeySignatureStep'

type HashState = { state: 'idle' } | { state: 'hashing'; done: number; total: number } | { state: 'done'; value: `0x${string}`; salt: SaltedHash['salt'] } | { state: 'error'; error: unknown }

type Phase =
  | { step: 'form' }
  | { step: 'signing' }
  | { step: 'uploading'; loaded: number; total: number }
  | { step: 'processing' }
  | { step: 'pending'; record: MedicalRecord }
  | { step: 'done'; record: MedicalRecord }

const PENDING_POLL_MS = 3000

function baseName(fileName: string): string {
  const dot = fileName.lastIndexOf('.')
  return (dot > 0 ? fileName.slice(0, dot) : fileName).slice(0, 200)
}

export function Upload() {
  const { api, keySignature, signAction } = useSession()
  const invalidate = useInvalidate()
  const [file, setFile] = useState<File | null>(null)
  const [recordType, setRecordType] = useState<RecordType>('report')
  const [name, setName] = useState('')
  const [hash, setHash] = useState<HashState>({ state: 'idle' })
  const [phase, setPhase] = useState<Phase>({ step: 'form' })
  const [error, setError] = useState<unknown>(null)
  const abort = useRef<AbortController | null>(null)
  const fileInput = useRef<HTMLInputElement>(null)

  // Fingerprint the file as soon as it is picked (in a Web Worker, chunk by chunk).
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

  // A record sent but not yet mined: poll the records (for a while) until it is on chain.
  const waiting = phase.step === 'pending' ? phase.record : null
  const records = usePatientRecords({ settlingPollMs: PENDING_POLL_MS, enabled: waiting !== null })
  useEffect(() => {
    const found = waiting && records.data?.find((r) => r.cid === waiting.cid)
    if (found && isOnChain(found)) setPhase({ step: 'done', record: found })
  }, [waiting, records.data])

  const reset = () => {
    setFile(null)
    setName('')
    setPhase({ step: 'form' })
    setError(null)
    if (fileInput.current) fileInput.current.value = ''
  }

  const busy = phase.step === 'signing' || phase.step === 'uploading' || phase.step === 'processing'
  const ready = !!file && hash.state === 'done' && name.trim().length > 0 && !!keySignature && !busy

  const submit = async (event?: FormEvent) => {
    event?.preventDefault()
    if (!file || hash.state !== 'done' || !keySignature) return
    setError(null)
    setPhase({ step: 'signing' })
    try {
      const signed = await signAction('addRecord', { recordType, contentHash: hash.value })
      if (signed.nonce === undefined || signed.deadline === undefined) throw new Error('The signing payload had no nonce or deadline.')
      abort.current = new AbortController()
      setPhase({ step: 'uploading', loaded: 0, total: file.size })
      const { status, body } = await api.records.upload(
        {
          file,
          fileName: file.name,
          recordType,
          name: name.trim(),
          walletSignature: keySignature,
          recordSignature: signed.signature,
          nonce: signed.nonce,
          deadline: signed.deadline,
          salt: hash.salt,
        },
        (p) => setPhase(p.phase === 'processing' ? { step: 'processing' } : { step: 'uploading', loaded: p.loaded, total: p.total }),
        abort.current.signal,
      )
      setPhase(status === 202 || body.state === 'pending' ? { step: 'pending', record: body } : { step: 'done', record: body })
      void invalidate('records', 'patientAudit')
    } catch (err) {
      setError(err)
      setPhase({ step: 'form' })
    } finally {
      abort.current = null
    }
  }

  if (phase.step === 'done' || phase.step === 'pending') {
    const record = phase.record
    return (
      <section className="card" aria-labelledby="upload-title">
        <h2 id="upload-title">Upload a record</h2>
        {phase.step === 'done' ? (
          <Notice kind="success" title="Stored and anchored">
            “{record.name}” is encrypted, pinned to IPFS and its fingerprint is recorded on the chain
            {record.record_id !== null && record.record_id !== undefined ? ` as record #${record.record_id}` : ''}.
          </Notice>
        ) : (
          <Notice kind="info" title="Waiting for the transaction">
            “{record.name}” is encrypted and pinned; the transaction that anchors its fingerprint is sent but not mined yet. This page
            updates when it is confirmed; you can leave it meanwhile.
          </Notice>
        )}
        <dl className="facts">
          <dt>Fingerprint (salted SHA-256)</dt>
          <dd>
            <code>{record.content_hash}</code>
          </dd>
          <dt>IPFS CID</dt>
          <dd>
            <code>{record.cid}</code>
          </dd>
          {record.tx_hash && (
            <>
              <dt>Transaction</dt>
              <dd>
                <code>{record.tx_hash}</code>
              </dd>
            </>
          )}
        </dl>
        <button type="button" className="btn btn-secondary" onClick={reset}>
          Upload another file
        </button>
      </section>
    )
  }

  return (
    <section className="card" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload a record</h2>
      <form onSubmit={submit} className="stack">
        <fieldset disabled={busy}>
          <legend>1. Choose the file</legend>
          <label className="field">
            <span>File</span>
            <input
              ref={fileInput}
              type="file"
              onChange={(e) => {
                const picked = e.target.files?.[0] ?? null
                setFile(picked)
                if (picked && !name) setName(baseName(picked.name))
              }}
            />
          </label>
          <label className="field">
            <span>Type</span>
            <select value={recordType} onChange={(e) => setRecordType(e.target.value as RecordType)}>
              {RECORD_TYPES.map((type) => (
                <option key={type} value={type}>
                  {RECORD_TYPE_LABELS[type]}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Name</span>
            <input type="text" value={name} maxLength={200} onChange={(e) => setName(e.target.value)} placeholder="e.g. Blood test, March" />
            <span className="hint">Only you, and doctors you share this record with, see the name.</span>
          </label>
          {file && (
            <div className="file-facts">
              <span>{formatBytes(file.size)}</span>
              {hash.state === 'hashing' && <Progress value={hash.done} max={hash.total} label="Computing the file's fingerprint on this device" />}
              {hash.state === 'done' && (
                <span>
                  <Badge kind="ok">Fingerprint ready</Badge> <code title={hash.value}>{shortHash(hash.value, 12)}</code>
                </span>
              )}
              {hash.state === 'error' && <ErrorNotice error={hash.error} title="Could not read the file" />}
            </div>
          )}
        </fieldset>

        <fieldset>
          <legend>2. Unlock your encryption key</legend>
          <KeySignatureStep />
        </fieldset>

        <fieldset>
          <legend>3. Authorise and upload</legend>
          <SignButton
            onClick={() => void submit()}
            disabled={!ready}
            busy={phase.step === 'signing'}
            explain={
              <>
                Your wallet signs an “AddRecord” authorisation (EIP-712) containing the record type
                {file ? ` (${RECORD_TYPE_LABELS[recordType]})` : ''} and this file's fingerprint
                {hash.state === 'done' ? ` ${shortHash(hash.value)}` : ''}, with a one-time number and an expiry. The fingerprint mixes in a random salt drawn on this device, so nobody can confirm a guess of the file from the chain; the salt is stored encrypted with the record. It lets HealthLedger add
                that fingerprint to your vault (your own HealthRecord contract) and pay the fee for you. It cannot be used for any other file. The file is then
                sent to HealthLedger, encrypted there with your key, and only the encrypted copy is stored.
              </>
            }
          >
            Sign AddRecord for this file and upload
          </SignButton>
          {!keySignature && file && <p className="hint">Sign the key message first (step 2).</p>}
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
      <ErrorNotice error={error} title="The upload did not complete" />
    </section>
  )
}
