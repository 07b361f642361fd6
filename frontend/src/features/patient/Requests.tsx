/**
 * Access requests from doctors: approve (choosing records and a duration) or deny, each signed. The
 * card shows what the doctor can already read (and add), and approving adds to it by default: the
 * chain replaces a doctor's grant with the signed set and duration, so the app signs the union for the
 * later end (sharingPlan.ts); replacing is an explicit choice, and a summary says before signing
 * exactly what the doctor will read and until when. A
 * request that also asks to add records offers write access for the same days (unticked: granting it
 * is an explicit choice), a second signature after the approval (see answerRequest.ts).
 */
import { useMutation } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { useInvalidate, usePatientGrants, usePatientRecords, usePatientRequests, usePatientWriteGrants } from '../../api/queries'
import { isOnChain, type AccessRequest, type MedicalRecord, type PatientGrant, type PatientWriteGrant } from '../../api/types'
import { QueryCard } from '../../components/QueryState'
import { ChainProgress, StageButton, TxLink } from '../../components/progress/ChainProgress'
import { useChainAction } from '../../components/progress/useChainAction'
import { Address, Badge, ErrorNotice, Notice, SignButton } from '../../components/ui'
import { addedBy, formatDate, recordTypeLabel } from '../../lib/format'
import { useSession } from '../../session/SessionContext'
import { useWallet } from '../../wallet/WalletContext'
import {
  approveRequest,
  chainNow,
  DAY,
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
import './Requests.css'
import { alreadySharedLine, approvalSummary, planApproval, type ShareableRecord, type ShareMode } from './sharingPlan'

/**
 * The chain's time, refreshed every `everyMs` (the latest block's timestamp through the wallet, else
 * the clock): the plan shown before signing counts durations from it, as the contract does.
 */
function useChainNow(everyMs = 30_000): number {
  const { provider } = useWallet()
  const [now, setNow] = useState(() => Math.floor(Date.now() / 1000))
  useEffect(() => {
    let live = true
    const tick = () => void chainNow(provider).then((t) => live && setNow(t))
    tick()
    const timer = setInterval(tick, everyMs)
    return () => {
      live = false
      clearInterval(timer)
    }
  }, [provider, everyMs])
  return now
}

/** What the doctor can read and add now: the card's "Already shared" lines. */
function AlreadyShared({ who, grant, write, shareable, now }: { who: string; grant: PatientGrant | null; write: PatientWriteGrant | null; shareable: ShareableRecord[]; now: number }) {
  const read = alreadySharedLine(grant, shareable, now)
  const writes = write && write.expiresAt > now ? write : null
  return (
    <div className="already-shared" aria-label={`Already shared with ${who}`} role="group">
      <strong>Already shared with {who}:</strong>{' '}
      {read ? <span>read {read}</span> : <span className="muted">nothing to read right now</span>}
      {writes && <span>; may add records until {formatDate(writes.expiresAt)}</span>}
    </div>
  )
}

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

function RequestCard({
  request,
  records,
  grant,
  write,
  grantsUnknown,
  onDone,
}: {
  request: AccessRequest
  records: MedicalRecord[]
  /** The doctor's live read grant (from the patient's grants), if any. */
  grant: PatientGrant | null
  /** The doctor's live write grant, if any. */
  write: PatientWriteGrant | null
  /**
   * Null once the doctor's grants are known; else why not (loading, or the error): without them an
   * approval could take back what is shared, so it waits.
   */
  grantsUnknown: { loading: boolean; error: unknown } | null
  onDone: (outcome: ApprovalOutcome) => void
}) {
  const { api, signAction, keySignature } = useSession()
  const { provider } = useWallet()
  const [selected, setSelected] = useState<number[]>([])
  const [days, setDays] = useState(7)
  const [mode, setMode] = useState<ShareMode>('add')
  const now = useChainNow()
  // Offered only when the doctor asked; never ticked for the patient.
  const [withWrite, setWithWrite] = useState(false)
  const [step, setStep] = useState<ApprovalStep | null>(null)
  const doctor = request.doctor
  const who = doctorTitle(request.doctor_name, doctor)
  const confirmed = records.filter(isOnChain)
  const grantWrite = request.wants_write && withWrite
  const shareable: ShareableRecord[] = confirmed.map((record) => ({ record_id: record.record_id as number, name: record.name || `record #${record.record_id}` }))
  const liveGrant = grant && grant.expires_at > now ? grant : null
  const sharedIds = new Set(liveGrant?.records.map((record) => record.record_id) ?? [])
  /** The set and duration to sign at `at` (the shown plan uses the card's clock, signing a fresh one). */
  const planAt = (at: number) => planApproval({ current: grant, shareable, ticked: selected, days, mode, now: at })
  const plan = planAt(now)
  const summary = approvalSummary(capitalisedWho(who), plan, shareable, liveGrant)
  /** The write duration: in add mode, never shorter than the live write grant. */
  const writeSecondsAt = (at: number) => Math.max(days * DAY, mode === 'add' && write ? write.expiresAt - at : 0)
  // "until <date>" whenever the approval keeps a later end than the days chosen (add mode), even a whole number of days away.
  const planLabel = plan.duration === days * DAY ? `${days} day(s)` : `until ${formatDate(plan.expiresAt)}`

  const chain = useChainAction()
  const respond = useMutation({
    mutationFn: (action: 'approve' | 'deny') => chain.run(async (step): Promise<ApprovalOutcome> => {
      if (action === 'approve') {
        // Durations count from the block that mines the approval: plan again with the chain's time now.
        const at = await chainNow(provider)
        const signedPlan = planAt(at)
        return approveRequest(
          { request, recordIds: signedPlan.recordIds, days, duration: signedPlan.duration, writeDuration: writeSecondsAt(at), keySignature, grantWrite },
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
      {grantsUnknown ? (
        grantsUnknown.error ? (
          <ErrorNotice error={grantsUnknown.error} title={`Could not check what ${who} can already read (approving waits for it)`} />
        ) : (
          <p className="muted">Checking what {who} can already read…</p>
        )
      ) : (
        <AlreadyShared who={who} grant={grant} write={write} shareable={shareable} now={now} />
      )}
      {liveGrant && (
        <fieldset className="share-mode">
          <legend>What happens to what {who} can already read</legend>
          <label className="check">
            <input type="radio" name={`mode-${request.id}`} checked={mode === 'add'} onChange={() => setMode('add')} disabled={busy !== null} />
            Add to what {who} can already see (keeps the later end)
          </label>
          <label className="check">
            <input type="radio" name={`mode-${request.id}`} checked={mode === 'replace'} onChange={() => setMode('replace')} disabled={busy !== null} />
            Replace with only these (for the days below, even if that is shorter)
          </label>
        </fieldset>
      )}
      <fieldset>
        <legend>Records to share</legend>
        {confirmed.length === 0 && <p className="muted">You have no confirmed records to share.</p>}
        {confirmed.map((record) => {
          const id = record.record_id as number
          // In add mode what is shared stays shared: shown ticked, not untickable.
          const kept = mode === 'add' && sharedIds.has(id)
          return (
            <label key={record.cid} className="check">
              <input
                type="checkbox"
                checked={kept || selected.includes(id)}
                disabled={kept}
                onChange={(e) => setSelected((s) => (e.target.checked ? [...s, id] : s.filter((other) => other !== id)))}
              />
              {recordTypeLabel(record.record_type)}: {record.name}
              {addedBy(record) ? ` (${addedBy(record)})` : ''}
              {sharedIds.has(id) && <Badge kind="neutral">already shared</Badge>}
            </label>
          )
        })}
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
      <p className="share-summary" aria-live="polite">
        {summary}
      </p>
      <p className="hint">Sharing needs your encryption key so the doctor can be given access to these files:</p>
      <KeySignatureStep compact />
      <div className="row">
        <StageButton
          onClick={() => respond.mutate('approve')}
          disabled={plan.recordIds.length === 0 || !keySignature || busy !== null || grantsUnknown !== null}
          stage={chain.stageOf('approve')}
          explain={
            `Signs an “ApproveRecords” authorisation (EIP-712): this doctor may read these ${plan.recordIds.length} record(s) (it replaces their earlier grant, so it lists everything they keep) ${planLabel.startsWith('until') ? planLabel : `for ${planLabel}`}. You can revoke it at any time.` +
            (grantWrite ? ` Then a second signature, “ApproveWrite”: ${who} may add records to your file for ${days} day(s).` : '')
          }
        >
          Sign approval ({plan.recordIds.length} record(s), {planLabel})
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

/** "Dr Lopez" at the start of a sentence ("The doctor 0x…" without a name). */
const capitalisedWho = (who: string) => who.charAt(0).toUpperCase() + who.slice(1)

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

export function Requests() {
  const requests = usePatientRequests()
  const records = usePatientRecords()
  const grants = usePatientGrants()
  const writeGrants = usePatientWriteGrants()
  // Both lists are needed before approving (the signed set and ends build on them).
  const unknown = grants.isSuccess && writeGrants.isSuccess ? null : { loading: grants.isPending || writeGrants.isPending, error: grants.error ?? writeGrants.error }
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
          grant={grants.data?.find((grant) => sameAddress(grant.doctor, request.doctor)) ?? null}
          write={writeGrants.data?.find((grant) => sameAddress(grant.doctorAddress, request.doctor)) ?? null}
          grantsUnknown={unknown}
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
