/**
 * Upload: drop or choose one or more files; each is fingerprinted on this device (SHA-256 of a fresh
 * random salt followed by the file, so the fingerprint on the chain reveals nothing guessable, and
 * the duplicate tag that says "you added this on …"), gets a suggested record type, and is then
 * signed (one AddRecord each, in nonce order) and sent with its progress, speed and time left shown
 * next to the button. The uploads themselves live in `UploadProvider` (UploadQueue.tsx), above the
 * tabs, so they keep running, and keep showing here, when the patient looks elsewhere meanwhile.
 */
import { useRef, useState, type DragEvent } from 'react'
import { ChainProgress, StageButton, TxLink } from '../../components/progress/ChainProgress'
import { fileOfText } from '../../components/progress/confirmations'
import { formatRate, formatTimeLeft } from '../../components/progress/transferRate'
import { Badge, ErrorNotice, Notice, Progress } from '../../components/ui'
import { formatBytes, formatDate, shortHash } from '../../lib/format'
import { useSession } from '../../session/SessionContext'
import { KeySignatureStep } from './KeySignatureStep'
import { useUploadQueue, type Duplicate, type UploadItem } from './UploadQueue'
import { FileLimitsText, RecordFileInput, RecordNameField, RecordTypeField } from '../../components/recordForm/RecordFields'
import { fileProblem } from '../../components/recordForm/suggest'
import './upload.css'

function TransferBar({ item }: { item: UploadItem }) {
  const t = item.transfer
  if (item.chain.stage === 'confirming') {
    const c = item.chain.confirmations
    // Mined (a count from the server): it waits for more blocks on top, not for its own block.
    const label = c && c.seen > 0 ? `“${item.name}”: in a block, ${c.seen} of ${c.needed} confirmations` : `“${item.name}”: sent, waiting for its block…`
    return <Progress value={c?.seen ?? 0} max={c && c.seen > 0 ? c.needed : 0} label={label} />
  }
  // Signed, the request is on its way but no progress event came yet: the bar shows it at 0.
  if (!t) return item.chain.stage === 'sending' ? <Progress value={0} max={item.file.size} label={`Uploading “${item.name}”`} /> : null
  if (t.phase === 'processing') return <Progress value={0} max={0} label={`“${item.name}”: encrypting, pinning and sending the transaction…`} />
  const facts = [formatRate(t.rate), formatTimeLeft(t.secondsLeft)].filter(Boolean).join(' · ')
  return (
    <div className="transfer">
      <Progress value={t.loaded} max={t.total} label={`Uploading “${item.name}”`} />
      <span className="transfer-facts muted small" data-testid="transfer-facts">
        {formatBytes(t.loaded)} of {formatBytes(t.total)}
        {facts && ` · ${facts}`}
      </span>
    </div>
  )
}

function DuplicateWarning({ item, duplicate, onAllow }: { item: UploadItem; duplicate: Duplicate; onAllow: (allow: boolean) => void }) {
  const text =
    duplicate.kind === 'record'
      ? `You added this on ${formatDate(duplicate.record.created_at)} as “${duplicate.record.name}”.`
      : `It is the same file as “${duplicate.item.name}” in this list.`
  return (
    <Notice kind="warning" title="Already uploaded?">
      {text}{' '}
      <label className="field inline">
        <input type="checkbox" checked={item.allowDuplicate} onChange={(e) => onAllow(e.target.checked)} /> Upload it again anyway
      </label>
    </Notice>
  )
}

function QueuedFile({ item }: { item: UploadItem }) {
  const queue = useUploadQueue()
  const { config } = useSession()
  const locked = item.chain.stage === 'signing' || item.chain.stage === 'sending' || item.chain.stage === 'confirming'
  const duplicate = queue.duplicates.get(item.id) ?? null
  const problem = fileProblem(item.file, config.max_upload_bytes)
  return (
    <li className="queued-file" data-file={item.file.name} data-stage={item.chain.stage}>
      <div className="queued-head">
        <strong className="queued-name">{item.file.name}</strong>
        <span className="muted small">{formatBytes(item.file.size)}</span>
        {item.hashing && <Progress value={item.hashing.done} max={item.hashing.total} label="Computing the file's fingerprint on this device" />}
        {!item.hashing && item.contentHash && (
          <span>
            <Badge kind="ok">Fingerprint ready</Badge> <code title={item.contentHash}>{shortHash(item.contentHash, 12)}</code>
          </span>
        )}
        {!locked && (
          <button type="button" className="btn btn-small btn-secondary" onClick={() => queue.remove(item.id)}>
            Remove<span className="visually-hidden"> {item.file.name}</span>
          </button>
        )}
      </div>
      <div className="row">
        <RecordTypeField value={item.recordType} of={item.file.name} disabled={locked} onChange={(recordType) => queue.edit(item.id, { recordType })} />
        <RecordNameField value={item.name} of={item.file.name} disabled={locked} onChange={(name) => queue.edit(item.id, { name })} />
      </div>
      {problem && <Notice kind="warning">{problem}</Notice>}
      {duplicate && item.chain.stage !== 'done' && <DuplicateWarning item={item} duplicate={duplicate} onAllow={(allow) => queue.edit(item.id, { allowDuplicate: allow })} />}
      {item.hashError ? <ErrorNotice error={item.hashError} title="Could not read the file" /> : null}
      <ChainProgress state={item.chain} label={`Progress of ${item.file.name}`} />
      {item.chain.stage === 'failed' && <ErrorNotice error={item.chain.error} title="The upload did not complete" />}
    </li>
  )
}

function filesOf(list: FileList | null | undefined): File[] {
  return list ? Array.from(list) : []
}

export function Upload() {
  const queue = useUploadQueue()
  const { keySignature, config } = useSession()
  const [dragging, setDragging] = useState(false)
  const fileInput = useRef<HTMLInputElement>(null)
  const actions = useRef<HTMLDivElement>(null)
  const waiting = queue.items.filter((i) => i.chain.stage !== 'done')
  const finished = queue.items.filter((i) => i.chain.stage === 'done')
  const count = queue.ready.length
  const running = queue.running

  const start = () => {
    actions.current?.scrollIntoView?.({ block: 'nearest' })
    void queue.start()
  }
  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault()
    setDragging(false)
    const files = filesOf(event.dataTransfer?.files)
    if (files.length) queue.add(files)
  }

  return (
    <section className="card" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload records</h2>
      <form
        className="stack"
        onSubmit={(e) => {
          e.preventDefault()
          start()
        }}
      >
        <fieldset>
          <legend>1. Choose the files</legend>
          <div
            className={`dropzone${dragging ? ' dropzone-active' : ''}`}
            data-testid="dropzone"
            onDragEnter={(e) => {
              e.preventDefault()
              setDragging(true)
            }}
            onDragOver={(e) => e.preventDefault()}
            onDragLeave={() => setDragging(false)}
            onDrop={onDrop}
          >
            <p>
              <strong>Drop files here</strong> or choose them below; each file gets its own signature. <FileLimitsText maxBytes={config.max_upload_bytes} />
            </p>
            <RecordFileInput inputRef={fileInput} multiple clearAfterPick onFiles={(files) => files.length && queue.add(files, { replace: true })} />
            <p className="hint">The record type is suggested from each file's name; change it if it is wrong. Only you, and doctors you share a record with, see its name.</p>
          </div>
          {waiting.length > 0 && (
            <ul className="queued-files" aria-label="Files to upload">
              {waiting.map((item) => (
                <QueuedFile key={item.id} item={item} />
              ))}
            </ul>
          )}
        </fieldset>

        <fieldset>
          <legend>2. Unlock your encryption key</legend>
          <KeySignatureStep />
        </fieldset>

        <fieldset>
          <legend>3. Authorise and upload</legend>
          <div className="upload-actions" ref={actions}>
            <StageButton
              stage={running?.chain.stage ?? 'idle'}
              onClick={start}
              disabled={!keySignature || count === 0}
              explain={
                'Your wallet signs one “AddRecord” authorisation (EIP-712) per file, containing its record type and its fingerprint, with a ' +
                'one-time number and an expiry; the next file asks again once the one before is on the chain. The fingerprint mixes in a ' +
                'random salt drawn on this device, so nobody can confirm a guess of the file from the chain; the salt is stored encrypted ' +
                'with the record. It lets HealthLedger add that fingerprint to your vault and pay the fee for you. It cannot be used for any ' +
                'other file. The file is then sent to HealthLedger, encrypted there with your key, and only the encrypted copy is stored.'
              }
            >
              {count > 1 ? `Sign AddRecord for these ${count} files and upload` : 'Sign AddRecord for this file and upload'}
            </StageButton>
            {running && (
              <div className="upload-live" aria-live="polite">
                {queue.batch && fileOfText(queue.batch.index, queue.batch.total) && (
                  <span className="upload-batch small" data-testid="upload-batch">
                    Uploading {fileOfText(queue.batch.index, queue.batch.total)}
                  </span>
                )}
                <TransferBar item={running} />
                {(running.chain.stage === 'sending' || (running.chain.stage === 'confirming' && !running.chain.confirmations)) && (
                  <button type="button" className="btn btn-small btn-secondary" onClick={() => queue.cancel()}>
                    Cancel upload
                  </button>
                )}
              </div>
            )}
          </div>
          {!keySignature && waiting.length > 0 && <p className="hint">Sign the key message first (step 2).</p>}
        </fieldset>
      </form>

      {finished.length > 0 && (
        <div className="stack">
          {finished.map((item) => (
            <Notice key={item.id} kind="success" title="Stored and anchored">
              “{item.record?.name ?? item.name}” is encrypted, pinned to IPFS and its fingerprint is recorded on the chain
              {item.record?.record_id !== null && item.record?.record_id !== undefined ? ` as record #${item.record.record_id}` : ''}.{' '}
              {item.chain.confirmations && `Confirmed by ${item.chain.confirmations.seen} of ${item.chain.confirmations.needed} block(s). `}
              <TxLink hash={item.chain.txHash ?? item.record?.tx_hash} />
            </Notice>
          ))}
          <button type="button" className="btn btn-secondary" onClick={() => queue.clearFinished()}>
            Clear the list
          </button>
        </div>
      )}
    </section>
  )
}
