/**
 * Doctors: amend a structured record they wrote (README "FHIR records: Amendments"). The form opens
 * prefilled from the current version's resource (fhir/amend.ts `resourceToForm`); the new resource is
 * built by the same builder plus the replaces extension naming the previous version's anchor (taken
 * from GET /api/medical-records/{cid}/history, the value the server compares against), fingerprinted
 * with a fresh salt, signed once (`addRecordAsDoctor`) and uploaded with `replaces=<cid>`. Nothing is
 * overwritten: the new version is its own record; the old one is marked superseded once it is mined.
 */
import { useQuery } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { ApiError } from '../../api/errors'
import { useInvalidate } from '../../api/queries'
import { ACCOUNT } from '../../api/queryClient'
import { isOnChain, type MedicalRecord } from '../../api/types'
import { Badge, Notice, Progress } from '../../components/ui'
import { parseResource, resourceToForm } from '../../fhir/amend'
import { FHIR_CONTENT_TYPE } from '../../fhir/build'
import { RecordNameField } from '../../components/recordForm/RecordFields'
import { hashFile, type SaltedHash } from '../../lib/hashFile'
import { shortHash } from '../../lib/format'
import { useSession } from '../../session/SessionContext'
import { doctorUploadMessage, uploadAsDoctor } from './doctorUpload'
import { StructuredRecordForm } from './StructuredRecordForm'

/** Whether a record can be amended in the app: a structured record on chain that nothing replaces yet. */
export function canAmend(record: Pick<MedicalRecord, 'content_type' | 'superseded' | 'state' | 'record_id'>): boolean {
  return record.content_type.split(';')[0].trim() === FHIR_CONTENT_TYPE && !record.superseded && isOnChain(record)
}

type Phase = { step: 'form' } | { step: 'sending' } | { step: 'done'; record: MedicalRecord; pending: boolean }

export function AmendRecord({ record, onClose, onOpenCurrent }: { record: MedicalRecord; onClose: () => void; onOpenCurrent: (cid: string) => void }) {
  const { api, keySignature, signKeyMessage, signAction, session } = useSession()
  const invalidate = useInvalidate()
  // The current resource (decrypted with the doctor's own key) and the version's anchor.
  const source = useQuery({
    queryKey: [ACCOUNT, session?.address.toLowerCase() ?? null, 'amendSource', record.cid],
    gcTime: 0,
    retry: false,
    queryFn: async () => {
      const signature = keySignature ?? (await signKeyMessage())
      const [file, history] = await Promise.all([api.records.view(record.cid, signature), api.records.history(record.cid)])
      const resource = parseResource(await file.blob.text())
      const form = resource && resourceToForm(resource)
      if (!form) throw new Error('This record is not a prescription, report or invoice the app can amend.')
      const version = history.versions.find((v) => v.cid === record.cid)
      return { form, anchor: version?.anchor ?? null, current: history.current }
    },
  })
  const [name, setName] = useState(record.name)
  const [built, setBuilt] = useState<File | null>(null)
  const [hash, setHash] = useState<SaltedHash | null>(null)
  const [phase, setPhase] = useState<Phase>({ step: 'form' })
  const [error, setError] = useState<unknown>(null)

  useEffect(() => {
    setHash(null)
    if (!built) return
    const controller = new AbortController()
    hashFile(built, () => {}, controller.signal).then((h) => !controller.signal.aborted && setHash(h), (err) => !controller.signal.aborted && setError(err))
    return () => controller.abort()
  }, [built])

  const submit = async () => {
    if (!built || !hash) return
    setError(null)
    setPhase({ step: 'sending' })
    try {
      const { status, body } = await uploadAsDoctor(
        { patientAddress: record.patient, file: built, recordType: record.record_type, name, contentHash: hash.contentHash, salt: hash.salt, replaces: record.cid },
        { api, signAction },
      )
      void invalidate('authored', 'records')
      setPhase({ step: 'done', record: body, pending: status === 202 || !isOnChain(body) })
    } catch (err) {
      setError(err)
      setPhase({ step: 'form' })
    }
  }

  const superseded = error instanceof ApiError && error.code === 'record_superseded' ? String(error.details.current ?? source.data?.current ?? '') : ''

  return (
    <section className="card" aria-labelledby="amend-title">
      <h2 id="amend-title">Amend “{record.name}”</h2>
      <p>
        The amendment is a new version: encrypted, pinned and anchored like any record, naming this one (still kept and verifiable) as the
        version it replaces. The patient sees the new version, with its history.
      </p>
      {source.isPending && <Progress value={0} max={0} label="Opening the current version…" />}
      {source.error && (
        <Notice kind="error" title="Could not open the record to amend">
          {doctorUploadMessage(source.error)}
        </Notice>
      )}
      {source.data && source.data.current !== record.cid && (
        <Notice kind="warning" title="A newer version exists">
          This version is already replaced.{' '}
          <button type="button" className="btn btn-small" onClick={() => onOpenCurrent(source.data.current)}>
            Amend the current version
          </button>
        </Notice>
      )}
      {source.data && !source.data.anchor && <Notice kind="warning">This version is not on the chain yet; it can be amended once it is.</Notice>}
      {phase.step === 'done' ? (
        <Notice kind="success" title={phase.pending ? 'Amendment sent' : 'Amended'}>
          “{phase.record.name}” is the new version{phase.pending ? '; its transaction is sent and will be mined shortly' : ', anchored on the chain'}.{' '}
          <code>{shortHash(phase.record.content_hash)}</code>
        </Notice>
      ) : (
        source.data &&
        source.data.anchor && (
          <div className="stack">
            <StructuredRecordForm
              kind={source.data.form.kind}
              patient={record.patient}
              doctor={session?.address ?? ''}
              initial={source.data.form.form}
              replacesAnchor={source.data.anchor}
              onReady={(b) => setBuilt(b?.file ?? null)}
            />
            <RecordNameField value={name} onChange={setName} placeholder="e.g. Amoxicillin 500 mg" hint="The patient sees this name." />
            {built && (hash ? <Badge kind="ok">Fingerprint ready</Badge> : <Progress value={0} max={0} label="Computing the fingerprint…" />)}
            <p>
              <button type="button" className="btn btn-primary" onClick={() => void submit()} disabled={!built || !hash || !name.trim() || phase.step === 'sending'}>
                {phase.step === 'sending' ? 'Sending…' : 'Sign and send the amendment'}
              </button>{' '}
              <span className="hint">Your wallet signs one “AddRecordAsDoctor” authorisation for the new version's fingerprint.</span>
            </p>
          </div>
        )
      )}
      {error !== null && (
        <Notice kind="error" title="The amendment was not added">
          {doctorUploadMessage(error)}
          {superseded && (
            <>
              {' '}
              <button type="button" className="btn btn-small" onClick={() => onOpenCurrent(superseded)}>
                Open the current version
              </button>
            </>
          )}
        </Notice>
      )}
      <p>
        <button type="button" className="btn btn-secondary" onClick={onClose}>
          {phase.step === 'done' ? 'Close' : 'Cancel'}
        </button>
      </p>
    </section>
  )
}
