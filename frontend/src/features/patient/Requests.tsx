/**
 * Access requests from doctors: approve (choosing records and a duration) or deny, each signed. A
 * request that also asks to add records offers write access for the same days (unticked: granting it
 * is an explicit choice), a second signature after the approval (see answerRequest.ts).
 */
import { useMutation } from '@tanstack/react-query'
import { useState } from 'react'
import { useInvalidate, usePatientRecords, usePatientRequests } from '../../api/queries'
import { isOnChain, type AccessRequest, type MedicalRecord } from '../../api/types'
import { QueryCard } from '../../components/QueryState'
import { ChainProgress, StageButton, TxLink } from '../../components/progress/ChainProgress'
import { useChainAction } from '../../components/progress/useChainAction'
import { Address, Badge, ErrorNotice, Notice, SignButton } from '../../components/ui'
import { addedBy, formatDate, recordTypeLabel } from '../../lib/format'
import { useSession } from '../../session/SessionContext'
import {
  approveRequest,
  doctorTitle,
  grantWriteAccess,
  wantsWriteLine,
  writeFailureMessage,
  writeGrantedMessage,
  type ApprovalOutcome,
  type ApprovalStep,
  type WriteFailure,
} from './answerRequest'
import { KeySignatureStep } from './KeySignatureStep'

/** The two steps of an approval with write access, each with its state (a list, read in order). */
function ApprovalProgress({ step }: { step: ApprovalStep }) {
  const readDone = step === 'write-sign' || step === 'write-send'
  return (
    <ol className="steps" aria-label="Approval progress" aria-live="polite">
      <li>
        1. Share the chosen records: {readDone ? '✓ done' : step === 'approve-sign' ? 'waiting for your wallet…' : 'sending…'}
      </li>
      <li>2. Allow adding records: {step === 'write-sign' ? 'waiting for your wallet…' : step === 'write-send' ? 'sending…' : 'next'}</li>
    </ol>
  )
}

/**
 * Reading was granted, writing was not: say so and let the patient sign the write access again
 * (step 2 alone; the answered request is gone from the list by now).
 */
function WriteRetry({ failure, onDone }: { failure: WriteFailure; onDone: (message: string) => void }) {
  const { api, signAction } = useSession()
  const invalidate = useInvalidate()
  const retry = useMutation({
    mutationFn: () => grantWriteAccess(failure.doctor, failure.days, { api, signAction }),
    onSuccess: (grant) => {
      onDone(writeGrantedMessage(failure.who, grant))
      return invalidate('writeGrants', 'patientAudit')
    },
  })
  return (
    <Notice kind="error" title="Write access was not granted">
      <p>{writeFailureMessage(retry.error ? { ...failure, error: retry.error } : failure)}</p>
      <SignButton
        onClick={() => retry.mutate()}
        busy={retry.isPending}
        explain={`Signs an “ApproveWrite” authorisation (EIP-712): ${failure.who} may add records to your file for ${failure.days} day(s). It does not let them read anything more.`}
      >
        Sign write access again ({failure.days} day(s))
      </SignButton>
    </Notice>
  )
}

function RequestCard({ request, records, onDone }: { request: AccessRequest; records: MedicalRecord[]; onDone: (outcome: ApprovalOutcome) => void }) {
  const { api, signAction, keySignature } = useSession()
  const [selected, setSelected] = useState<number[]>([])
  const [days, setDays] = useState(7)
  // Offered only when the doctor asked; never ticked for the patient.
  const [withWrite, setWithWrite] = useState(false)
  const [step, setStep] = useState<ApprovalStep | null>(null)
  const doctor = request.doctor
  const who = doctorTitle(request.doctor_name, doctor)
  const confirmed = records.filter(isOnChain)
  const grantWrite = request.wants_write && withWrite

  const chain = useChainAction()
  const respond = useMutation({
    mutationFn: (action: 'approve' | 'deny') => chain.run(async (step): Promise<ApprovalOutcome> => {
      if (action === 'approve') {
        return approveRequest(
          { request, recordIds: selected, days, keySignature, grantWrite },
          {
            api,
            signAction,
            // The button leaves "Waiting for your wallet…" once the approval is signed.
            onStep: (next) => {
              setStep(next)
              if (next === 'approve-send') step.signed()
            },
          },
        )
      }
      const signed = await signAction('denyAccess', { doctor })
      step.signed()
      const answer = await api.access.respond({
        requestId: request.id,
        action,
        selectedRecords: [],
        approvalSignature: signed.signature,
        nonce: signed.nonce,
        deadline: signed.deadline,
      })
      return { message: 'Request denied.', writeFailure: null, txHash: answer.tx_hash }
    }, { key: action, txHashOf: (outcome) => outcome.txHash }),
    onSettled: () => setStep(null),
    // The refetch drops the answered request (and this card): the parent keeps the outcome on screen.
    onSuccess: onDone,
  })
  const busy = respond.isPending ? respond.variables : null

  if (respond.isSuccess) return <Notice kind="success">{respond.data.message} <TxLink hash={respond.data.txHash} /></Notice>
  return (
    <article className="card inner">
      <h3>
        Request from {request.doctor_name ?? 'a doctor'} <Address value={doctor} />{' '}
        {request.doctor_registered === false ? (
          <Badge kind="bad" title="The doctor registry no longer lists this address">not a registered doctor</Badge>
        ) : request.doctor_registered ? (
          <Badge kind="ok" title="Listed in the on-chain doctor registry">registered doctor</Badge>
        ) : null}
      </h3>
      <p>
        <strong>Reason:</strong> {request.reason || <span className="muted">none given</span>}
      </p>
      {request.wants_write && (
        <p>
          <Badge kind="warn">asks to add records</Badge> {wantsWriteLine(request)}
        </p>
      )}
      <p className="muted small">{formatDate(request.created_at)}</p>
      <fieldset>
        <legend>Records to share</legend>
        {confirmed.length === 0 && <p className="muted">You have no confirmed records to share.</p>}
        {confirmed.map((record) => (
          <label key={record.cid} className="check">
            <input
              type="checkbox"
              checked={selected.includes(record.record_id as number)}
              onChange={(e) =>
                setSelected((s) => (e.target.checked ? [...s, record.record_id as number] : s.filter((id) => id !== record.record_id)))
              }
            />
            {recordTypeLabel(record.record_type)}: {record.name}
            {addedBy(record) ? ` (${addedBy(record)})` : ''}
          </label>
        ))}
      </fieldset>
      <label className="field inline">
        <span>For how many days</span>
        <input type="number" min={1} max={365} value={days} onChange={(e) => setDays(Math.max(1, Math.min(365, Number(e.target.value) || 1)))} />
      </label>
      {request.wants_write && (
        <label className="check">
          <input type="checkbox" checked={withWrite} onChange={(e) => setWithWrite(e.target.checked)} disabled={busy !== null} />
          Also let {who} add records to my file for the same {days} day(s) (a second signature; it lets them add, not read more)
        </label>
      )}
      <p className="hint">Sharing needs your encryption key so the doctor can be given access to these files:</p>
      <KeySignatureStep compact />
      <div className="row">
        <StageButton
          onClick={() => respond.mutate('approve')}
          disabled={selected.length === 0 || !keySignature || busy !== null}
          stage={chain.stageOf('approve')}
          explain={
            `Signs an “ApproveRecords” authorisation (EIP-712): this doctor may read the ${selected.length} selected record(s) for ${days} day(s). You can revoke it at any time.` +
            (grantWrite ? ` Then a second signature, “ApproveWrite”: ${who} may add records to your file for ${days} day(s).` : '')
          }
        >
          Sign approval ({selected.length} record(s), {days} day(s))
        </StageButton>
        <StageButton
          variant="danger"
          onClick={() => respond.mutate('deny')}
          disabled={busy !== null}
          stage={chain.stageOf('deny')}
          explain="Signs a “DenyAccess” answer (EIP-712): the request is closed and nothing is shared."
        >
          Sign denial
        </StageButton>
      </div>
      <ChainProgress state={chain.state} />
      {busy === 'approve' && step && grantWrite && <ApprovalProgress step={step} />}
      <ErrorNotice error={respond.error} title="Your answer was not sent" />
    </article>
  )
}

export function Requests() {
  const requests = usePatientRequests()
  const records = usePatientRecords()
  const invalidate = useInvalidate()
  const items = requests.data ?? []
  const [outcome, setOutcome] = useState<{ text: string; txHash: string | null } | null>(null)
  // Answered requests whose write step failed (reading was granted): shown with a retry until it succeeds.
  const [failures, setFailures] = useState<WriteFailure[]>([])
  const intro = (outcome || failures.length > 0) && (
    <>
      {outcome && <Notice kind="success">{outcome.text} <TxLink hash={outcome.txHash} /></Notice>}
      {failures.map((failure) => (
        <WriteRetry
          key={failure.doctor}
          failure={failure}
          onDone={(text) => {
            setFailures((all) => all.filter((f) => f !== failure))
            setOutcome({ text, txHash: null })
          }}
        />
      ))}
    </>
  )
  return (
    <QueryCard id="requests-title" title="Access requests" emptyText="No doctor has asked for access." what="access requests"
      query={requests} items={items} intro={intro}>
      {items.map((request) => (
        <RequestCard
          key={request.id}
          request={request}
          records={records.data ?? []}
          onDone={({ message, writeFailure, txHash }) => {
            setOutcome({ text: message, txHash })
            setFailures((all) => [...all.filter((f) => f.doctor !== writeFailure?.doctor), ...(writeFailure ? [writeFailure] : [])])
            void invalidate('patientRequests', 'grants', 'writeGrants', 'patientAudit')
          }}
        />
      ))}
    </QueryCard>
  )
}
