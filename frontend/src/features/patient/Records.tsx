/** The patient's records: state, integrity, open (decrypted after verification), verify, and the
 * verification bundle that lets anyone check a record against the chain without HealthLedger. */
import { useMutation } from '@tanstack/react-query'
import { useCallback, useState } from 'react'
import { ApiError, readableError } from '../../api/errors'
import { isOnChain, type MedicalRecord, type VerifyResult, type ViewedFile } from '../../api/types'
import { usePatientRecords } from '../../api/queries'
import { ACTIONS_HEADER, DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { FilePreview } from '../../components/preview/FilePreview'
import { Badge, ErrorNotice, Notice } from '../../components/ui'
import { addedBy, formatBytes, formatDate, recordTypeLabel, shortHash } from '../../lib/format'
import { saltFromHex, sha256Chunked } from '../../lib/sha256'
import { useSession } from '../../session/SessionContext'
import { KeySignatureExplain } from './KeySignatureStep'
import { RecordViewsNote } from '../audit/RecordViews'
import { EXPORT_FILE_NAME, FhirExportButton } from '../../components/fhir/FhirExportButton'
import { RecordHistory } from '../../components/fhir/RecordHistory'
import { currentVersionOf, SupersededNote } from '../../components/fhir/Superseded'
import { ImportButton, ImportPanel, useBundleImport } from './ImportBundle'
import { RecordBillBadge } from '../bills/RecordBillBadge'
import { saveBlob } from '../../lib/download'

export type Integrity = { state: 'checking' } | { state: 'done'; result: VerifyResult } | { state: 'error'; message: string }

export function IntegrityBadge({ value }: { value: Integrity | undefined }) {
  if (!value) return <Badge kind="neutral">not checked</Badge>
  if (value.state === 'checking') return <Badge kind="neutral">checking…</Badge>
  if (value.state === 'error') return <Badge kind="bad" title={value.message}>check failed</Badge>
  const { result } = value
  if (result.verified) return <Badge kind="ok" title={result.plaintext_rehashed ? 'file re-hashed and matched' : 'stored hashes match'}>✓ verified</Badge>
  return (
    <Badge kind="bad" title={result.problems.join('; ')}>
      ✗ mismatch
    </Badge>
  )
}

interface Opened {
  record: MedicalRecord
  file: ViewedFile
  localHash: string
}

/** The record's verification bundle: the file, its salt, the vault, record id and transaction. */
function BundleButton({ record }: { record: MedicalRecord }) {
  const { api, keySignature, signKeyMessage } = useSession()
  const download = useMutation({
    mutationFn: async () => {
      const signature = keySignature ?? (await signKeyMessage())
      const { blob, filename } = await api.records.bundle(record.cid, signature)
      saveBlob(blob, filename)
    },
  })
  return (
    <>
      <button type="button" className="btn btn-secondary" onClick={() => download.mutate()} disabled={download.isPending}>
        {download.isPending ? 'Preparing bundle…' : 'Download verification bundle'}
      </button>{' '}
      <span className="hint">
        The file, its salt and where it is anchored, so anyone you give it to can check it against the chain with{' '}
        <code>healthledger verify-bundle</code>, without HealthLedger. It contains the file itself.
      </span>
      <ErrorNotice error={download.error} title="Could not prepare the bundle" />
    </>
  )
}

/** The opened record in the shared preview, with what was checked: by the server, against the chain, and here. */
function Preview({ opened, onClose, onOpen }: { opened: Opened; onClose: () => void; onOpen: (record: MedicalRecord) => void }) {
  const { record, file, localHash } = opened
  const matches = localHash.toLowerCase() === record.content_hash.toLowerCase()
  const details = (
    <>
    <RecordHistory record={record} onOpen={onOpen} />
    <p className="badges">
      <Badge kind={file.integrityVerified ? 'ok' : 'bad'}>{file.integrityVerified ? '✓' : '✗'} server integrity check</Badge>{' '}
      <Badge kind={file.blockchainVerified ? 'ok' : 'bad'}>{file.blockchainVerified ? '✓' : '✗'} matches the on-chain fingerprint</Badge>{' '}
      <Badge kind={matches ? 'ok' : 'bad'} title={localHash}>
        {matches ? '✓ re-checked in your browser' : '✗ your browser computed a different fingerprint'}
      </Badge>
    </p>
    </>
  )
  return <FilePreview title={record.name} file={file} byline={addedBy(record)} details={details} actions={<BundleButton record={record} />} onClose={onClose} />
}

function StateBadge({ record }: { record: MedicalRecord }) {
  const id = record.record_id !== null && record.record_id !== undefined ? ` #${record.record_id}` : ''
  switch (record.state) {
    case 'confirmed':
      return (
        <Badge kind="ok" title={record.tx_hash ?? undefined}>
          confirmed{id}
        </Badge>
      )
    case 'anchored':
      return (
        <Badge kind="warn" title="Mined; waiting for a few more blocks before it counts as final">
          anchored{id}, confirming
        </Badge>
      )
    case 'unanchored':
      return (
        <Badge kind="bad" title={record.unanchored_reason ?? undefined}>
          not on chain: upload again
        </Badge>
      )
    default:
      return <Badge kind="warn">waiting for transaction</Badge>
  }
}

function RecordsTable({
  records,
  integrity,
  opening,
  onOpen,
  onVerify,
}: {
  records: MedicalRecord[]
  integrity: Record<string, Integrity>
  opening: string | null
  onOpen: (record: MedicalRecord) => void
  onVerify: (record: MedicalRecord) => void
}) {
  const { keySignature } = useSession()
  return (
    <DataTable
      rows={records}
      rowKey={(record) => record.cid}
      columns={[
        { header: 'Type', cell: (record) => recordTypeLabel(record.record_type) },
        {
          header: 'Name',
          cell: (record) => (
            <>
              {record.name}
              {addedBy(record) && <div className="small">{addedBy(record)}</div>}
              <RecordBillBadge record={record} />
              <SupersededNote record={record} current={currentVersionOf(record, records)} onOpen={onOpen} />
              <RecordViewsNote cid={record.cid} />
              <div className="muted small" title={record.content_hash}>
                {shortHash(record.content_hash)}
              </div>
            </>
          ),
        },
        { header: 'Added', cell: (record) => formatDate(record.created_at) },
        { header: 'Size', cell: (record) => formatBytes(record.size) },
        { header: 'State', cell: (record) => <StateBadge record={record} /> },
        { header: 'Integrity', cell: (record) => <IntegrityBadge value={integrity[record.cid]} /> },
        {
          header: ACTIONS_HEADER,
          className: 'actions',
          cell: (record) => (
            <>
              <button type="button" className="btn btn-small" onClick={() => onOpen(record)} disabled={!isOnChain(record) || opening !== null}>
                {opening === record.cid ? 'Opening…' : keySignature ? 'Open' : 'Open (signs key message)'}
              </button>
              <button type="button" className="btn btn-small btn-secondary" onClick={() => onVerify(record)} disabled={!isOnChain(record)}>
                Verify
              </button>
            </>
          ),
        },
      ]}
    />
  )
}

export function Records() {
  const { api, keySignature, signKeyMessage } = useSession()
  // Pending records turn anchored, then confirmed, as the reconciler sees them mined and buried: poll while any are.
  const list = usePatientRecords({ settlingPollMs: 5000 })
  const [integrity, setIntegrity] = useState<Record<string, Integrity>>({})
  const [opened, setOpened] = useState<Opened | null>(null)
  const records = list.data ?? []
  const importer = useBundleImport()
  const closePreview = useCallback(() => setOpened(null), [])

  const verify = useCallback(
    async (record: MedicalRecord) => {
      setIntegrity((m) => ({ ...m, [record.cid]: { state: 'checking' } }))
      try {
        const result = await api.records.verify(record.cid, keySignature ?? undefined)
        setIntegrity((m) => ({ ...m, [record.cid]: { state: 'done', result } }))
      } catch (err) {
        setIntegrity((m) => ({ ...m, [record.cid]: { state: 'error', message: readableError(err) } }))
      }
    },
    [api, keySignature],
  )

  const verifyAll = async () => {
    for (const record of records.filter(isOnChain)) await verify(record)
  }

  // Opening is a read, not a change; a mutation only for its pending/error state (nothing to invalidate).
  const open = useMutation({
    mutationFn: async (record: MedicalRecord) => {
      const signature = keySignature ?? (await signKeyMessage())
      const file = await api.records.view(record.cid, signature)
      // The fingerprint is SHA-256(salt ‖ file) (plain SHA-256 for records from before salts).
      const localHash = await sha256Chunked(file.blob, { prefix: file.salt ? saltFromHex(file.salt) : undefined })
      return { record, file, localHash }
    },
    onSuccess: setOpened,
  })

  const verifyAllButton = (
    <>
      <button type="button" className="btn btn-secondary" onClick={() => void verifyAll()} disabled={!records.length}>
        Verify all
      </button>
      <FhirExportButton fileName={EXPORT_FILE_NAME} disabled={!records.length}
        title="All your verified records as one FHIR R4 Bundle, for any other health system" />
      <ImportButton importer={importer} />
    </>
  )
  const intro = (
    <>
      <ImportPanel importer={importer} />
      {!keySignature && records.length > 0 && (
        <p className="hint">
          Opening a record asks your wallet to sign the key message once for this session (no transaction): <KeySignatureExplain />
        </p>
      )}
    </>
  )
  return (
    <QueryCard id="records-title" title="My records" emptyText="No records yet. Upload one to get started." what="records"
      query={list} items={records} actions={verifyAllButton} intro={intro} footer={opened && <Preview opened={opened} onClose={closePreview} onOpen={(record) => open.mutate(record)} />}>
      <ErrorNotice error={open.error} title="Could not open the record" />
      {open.error instanceof ApiError && open.error.status === 409 && (
        <Notice kind="error">The stored file does not match its fingerprint on the chain. It was not shown. Contact support.</Notice>
      )}
      <RecordsTable
        records={records}
        integrity={integrity}
        opening={open.isPending ? (open.variables?.cid ?? null) : null}
        onOpen={(record) => open.mutate(record)}
        onVerify={(record) => void verify(record)}
      />
    </QueryCard>
  )
}
