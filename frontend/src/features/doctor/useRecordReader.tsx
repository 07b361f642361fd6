/**
 * How a doctor reads a record (keys v2): every open and every verify sends the doctor's own key
 * signature (X-Wallet-Signature), since the server can decrypt only with the reader's key pair. The
 * session asks the wallet for it once (signKeyMessage), after saying in plain words what it is.
 */
import { useMutation } from '@tanstack/react-query'
import { useCallback, useState } from 'react'
import { readableError } from '../../api/errors'
import type { ViewedFile } from '../../api/types'
import { DownloadLink, FilePreview } from '../../components/preview/FilePreview'
import { ErrorNotice, Notice } from '../../components/ui'
import { useSession } from '../../session/SessionContext'
import { RecordHistory } from '../../components/fhir/RecordHistory'
import { KeySignatureExplain } from '../patient/KeySignatureStep'
import type { Integrity } from '../patient/Records'

/** What a doctor can open: a record's CID and the name to show. */
export interface Readable {
  cid: string
  name: string | null
  /** Amendment links, when the list has them: an opened amended record shows its history. */
  replaces?: string | null
  replaced_by?: string | null
}

interface Opened {
  name: string
  file: ViewedFile
  record: Readable
}

export function useRecordReader() {
  const { api, keySignature, signKeyMessage } = useSession()
  const [opened, setOpened] = useState<Opened | null>(null)
  const [integrity, setIntegrity] = useState<Record<string, Integrity>>({})

  // Opening is a read of one file, not cached data: a mutation only for its pending and error state.
  const open = useMutation({
    mutationFn: async (record: Readable) => api.records.view(record.cid, keySignature ?? (await signKeyMessage())),
    onMutate: () => setOpened(null), // never leave an earlier "Verified" result next to a refusal
    onSuccess: (file, record) => setOpened({ name: record.name ?? record.cid, file, record }),
  })

  const verify = useCallback(
    async (record: Readable) => {
      setIntegrity((m) => ({ ...m, [record.cid]: { state: 'checking' } }))
      try {
        const result = await api.records.verify(record.cid, keySignature ?? (await signKeyMessage()))
        setIntegrity((m) => ({ ...m, [record.cid]: { state: 'done', result } }))
      } catch (err) {
        setIntegrity((m) => ({ ...m, [record.cid]: { state: 'error', message: readableError(err) } }))
      }
    },
    [api, keySignature, signKeyMessage],
  )

  const close = useCallback(() => setOpened(null), [])
  const opening = open.isPending ? (open.variables?.cid ?? null) : null
  return { open: (record: Readable) => open.mutate(record), opening, openError: open.error, opened, close, verify, integrity, keySignature }
}

/** Before the first open or verify of the session: what the wallet will be asked to sign, and why. */
export function KeySignatureHint({ show }: { show: boolean }) {
  if (!show) return null
  return (
    <p className="hint">
      Opening or verifying a record asks your wallet to sign the key message once for this session (no transaction), because only
      your own key can decrypt what patients share with you: <KeySignatureExplain />
    </p>
  )
}

/**
 * The outcome of the last open: the refusal, or the file in the shared preview (PDF drawn, image
 * inline, else a download) under a notice of what the server checked.
 */
export function OpenResult({ reader }: { reader: ReturnType<typeof useRecordReader> }) {
  const { opened, openError, close } = reader
  if (!opened) return <ErrorNotice error={openError} title="Could not open the record" />
  const verified = opened.file.integrityVerified && opened.file.blockchainVerified
  const details = (
    <>
      <Notice kind={verified ? 'success' : 'warning'} title={opened.name}>
        {verified ? 'Verified against the chain. ' : 'Not verified. '}
        <DownloadLink file={opened.file} />
      </Notice>
      <RecordHistory record={{ cid: opened.record.cid, replaces: opened.record.replaces, replaced_by: opened.record.replaced_by }} onOpen={(version) => reader.open(version)} />
    </>
  )
  return <FilePreview title={opened.name} file={opened.file} details={details} showDownload={false} onClose={close} />
}
