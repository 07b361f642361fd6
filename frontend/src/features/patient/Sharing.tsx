/**
 * Sharing: whom the patient shares records with right now (read from the chain), until when, and
 * what each doctor asked for. Revoke one record or everything (each asks first, in a dialog that says
 * what the doctor loses); accept an extension request. After revoking everything, offer to cancel
 * signatures that were made but never sent.
 */
import { useMutation } from '@tanstack/react-query'
import { useMemo, useState, type FormEvent } from 'react'
import { isAddress } from 'viem'
import { useInvalidate, usePatientGrants, usePatientRecords } from '../../api/queries'
import type { GrantRecord, PatientGrant } from '../../api/types'
import { ACTIONS_HEADER, DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { useConfirm, type ConfirmOptions } from '../../components/ConfirmDialog'
import { ChainProgress, StageButton, TxLink } from '../../components/progress/ChainProgress'
import { buttonLabel, type ChainStage } from '../../components/progress/chainStage'
import { useChainAction, type ChainStep } from '../../components/progress/useChainAction'
import { Address, Badge, Countdown, ErrorNotice, Notice } from '../../components/ui'
import { addedBy, formatDate, parseIds, recordTypeLabel } from '../../lib/format'
import { useSession } from '../../session/SessionContext'
import { CancelSignaturesOffer } from './CancelSignatures'

const DAY = 86_400

/**
 * Start a signed change: `key` names the button that shows it is busy, `message` the outcome;
 * `revoked` (for a full revocation) what to name in the offer to cancel unsent signatures.
 */
type Act = (key: string, run: (step: ChainStep) => Promise<unknown>, message: string, revoked?: string) => void
/** The stage of the button named `key` (see useChainAction). */
type StageOf = (key: string) => ChainStage
/** Ask before a revocation (see ConfirmDialog): `action` runs only when the patient confirms. */
type Confirm = (options: ConfirmOptions, action: () => void) => void

function days(seconds: number): string {
  const value = seconds / DAY
  return Number.isInteger(value) ? `${value} day(s)` : `${value.toFixed(1)} day(s)`
}

/** Sign and send a revocation: some records, or everything when `recordIds` is empty. */
function useRevoke() {
  const { api, signAction } = useSession()
  return async (doctor: string, recordIds: number[], step: ChainStep) => {
    const signed = recordIds.length
      ? await signAction('revokeRecords', { doctor, recordIds })
      : await signAction('revokeAccess', { doctor })
    step.signed()
    return api.access.revoke({
      doctorAddress: doctor,
      ...(recordIds.length ? { recordIds } : {}),
      signature: signed.signature,
      nonce: signed.nonce,
      deadline: signed.deadline,
    })
  }
}

function RevokeRecord({ grant, who, record, act, busy, stageOf, confirm }: { grant: PatientGrant; who: string; record: GrantRecord; act: Act; busy: string | null; stageOf: StageOf; confirm: Confirm }) {
  const revoke = useRevoke()
  const key = `record:${grant.doctor}:${record.record_id}`
  const label = record.name ?? `record #${record.record_id}`
  const others = grant.records.length - 1
  return (
    <button
      type="button"
      className="btn btn-small btn-danger"
      disabled={busy !== null}
      aria-label={`Revoke record ${record.record_id}${record.name ? ` (${record.name})` : ''}`}
      onClick={() =>
        confirm(
          {
            title: `Stop sharing ${label} with ${who}?`,
            body: (
              <p>
                {who} will no longer be able to open <strong>{label}</strong> once the revocation is mined.{' '}
                {others > 0 ? `The other ${others} shared record(s) stay shared until ${formatDate(grant.expires_at)}.` : 'Nothing else stays shared with them.'}{' '}
                You sign a “RevokeRecords” instruction in your wallet.
              </p>
            ),
            confirmLabel: `Revoke ${label}`,
          },
          () => act(key, (step) => revoke(grant.doctor, [record.record_id], step), `Access to record ${record.record_id} revoked for ${who}.`),
        )
      }
    >
      {buttonLabel(stageOf(key)) ?? 'Revoke'}
    </button>
  )
}

/**
 * "added by Dr …" per record id, from the patient's records (the query the records list already
 * holds): the chain's grant lists carry ids only.
 */
function useRecordAuthors(): Map<number, string> {
  const records = usePatientRecords()
  return useMemo(() => {
    const authors = new Map<number, string>()
    for (const record of records.data ?? []) {
      const author = addedBy(record)
      if (author && record.record_id !== null && record.record_id !== undefined) authors.set(record.record_id, author)
    }
    return authors
  }, [records.data])
}

function GrantCard({ grant, act, busy, stageOf, confirm }: { grant: PatientGrant; act: Act; busy: string | null; stageOf: StageOf; confirm: Confirm }) {
  const { api, signAction } = useSession()
  const revoke = useRevoke()
  const who = grant.doctor_name ?? 'A doctor'
  const authors = useRecordAuthors()
  const extra = grant.pending_extension_seconds
  const approveExtension = async (step: ChainStep) => {
    const signed = await signAction('approveExtension', { doctor: grant.doctor, extra })
    step.signed()
    return api.access.approveExtension({ doctorAddress: grant.doctor, signature: signed.signature, nonce: signed.nonce, deadline: signed.deadline })
  }
  return (
    <article className="card inner" aria-label={`Shared with ${who}`}>
      <h3>
        {who} <Address value={grant.doctor} />{' '}
        {grant.doctor_registered === false ? <Badge kind="warn">no longer registered</Badge> : <Badge kind="ok">registered doctor</Badge>}
      </h3>
      <p>
        Access ends {formatDate(grant.expires_at)} <Countdown until={grant.expires_at} />
      </p>
      {extra > 0 && (
        <Notice kind="info" title={`${who} asks for ${days(extra)} more`}>
          <StageButton
            variant="secondary"
            onClick={() => act(`extend:${grant.doctor}`, approveExtension, `Access for ${who} extended by ${days(extra)}.`)}
            stage={stageOf(`extend:${grant.doctor}`)}
            disabled={busy !== null}
            explain="Signs an “ApproveExtension” instruction (EIP-712) for exactly this extra time; the same records stay shared."
          >
            Sign extension approval (+{days(extra)})
          </StageButton>
        </Notice>
      )}
      <DataTable
        wrap={false}
        rows={grant.records}
        rowKey={(record) => record.record_id}
        columns={[
          { header: '#', cell: (record) => record.record_id },
          { header: 'Type', cell: (record) => recordTypeLabel(record.record_type) },
          {
            header: 'Name',
            cell: (record) => {
              const author = authors.get(record.record_id)
              return record.name ? (
                <>
                  {record.name}
                  {author && <div className="small">{author}</div>}
                </>
              ) : (
                <span className="muted">not in this service's list</span>
              )
            },
          },
          { header: ACTIONS_HEADER, cell: (record) => <RevokeRecord grant={grant} who={who} record={record} act={act} busy={busy} stageOf={stageOf} confirm={confirm} /> },
        ]}
      />
      <StageButton
        variant="danger"
        onClick={() =>
          confirm(
            {
              title: `Revoke everything shared with ${who}?`,
              body: (
                <p>
                  {who} will no longer be able to open any of the {grant.records.length} record(s) you shared (
                  {grant.records.map((record) => record.name ?? `record #${record.record_id}`).join(', ')}) once the revocation is mined. To
                  share again they must ask again. You sign a “RevokeAccess” instruction in your wallet.
                </p>
              ),
              confirmLabel: 'Revoke everything',
            },
            () => act(`all:${grant.doctor}`, (step) => revoke(grant.doctor, [], step), `All access for ${who} revoked.`, `all access for ${who}`),
          )
        }
        stage={stageOf(`all:${grant.doctor}`)}
        disabled={busy !== null}
        explain="Signs a “RevokeAccess” instruction (EIP-712) for this doctor; HealthLedger sends it to your vault (your own HealthRecord contract) and pays the fee. Access ends when it is mined."
      >
        Sign revocation of everything shared with {who}
      </StageButton>
    </article>
  )
}

/** For a grant this service does not list (e.g. approved from another app): revoke by address. */
function RevokeByAddress({ act, busy, stageOf, confirm }: { act: Act; busy: string | null; stageOf: StageOf; confirm: Confirm }) {
  const revoke = useRevoke()
  const [doctor, setDoctor] = useState('')
  const [ids, setIds] = useState('')
  const recordIds = ids.trim() ? parseIds(ids) : []
  const valid = isAddress(doctor.trim()) && recordIds !== null
  const submit = (event?: FormEvent) => {
    event?.preventDefault()
    if (!valid || recordIds === null) return
    const done = recordIds.length ? `Access to record(s) ${recordIds.join(', ')} revoked.` : 'All access for this doctor revoked.'
    const address = doctor.trim()
    confirm(
      {
        title: recordIds.length ? `Revoke record(s) ${recordIds.join(', ')} for ${address}?` : `Revoke all access for ${address}?`,
        body: (
          <p>
            {recordIds.length
              ? `This doctor will no longer be able to open record(s) ${recordIds.join(', ')} once the revocation is mined.`
              : 'This doctor will no longer be able to open anything you shared once the revocation is mined.'}{' '}
            You sign the revocation in your wallet.
          </p>
        ),
        confirmLabel: recordIds.length ? 'Revoke these records' : 'Revoke everything',
      },
      () => act('manual', (step) => revoke(address, recordIds, step), done, recordIds.length ? undefined : `all access for ${address}`),
    )
  }
  return (
    <details>
      <summary>Revoke by doctor's address</summary>
      <form onSubmit={submit} className="stack">
        <label className="field">
          <span>Doctor's address</span>
          <input type="text" value={doctor} onChange={(e) => setDoctor(e.target.value)} placeholder="0x…" spellCheck={false} />
        </label>
        <label className="field">
          <span>Record numbers (optional)</span>
          <input type="text" value={ids} onChange={(e) => setIds(e.target.value)} placeholder="e.g. 0, 3, 4 — empty means all records" />
          {recordIds === null && <span className="hint error-text">Use record numbers separated by commas.</span>}
        </label>
        <StageButton variant="danger" onClick={() => submit()} disabled={!valid || (busy !== null && busy !== 'manual')} stage={stageOf('manual')}>
          {recordIds && recordIds.length ? `Sign revocation of ${recordIds.length} record(s)` : 'Sign revocation of all access'}
        </StageButton>
      </form>
    </details>
  )
}

/**
 * Run one signed change at a time: which one is busy, its outcome, its error; the grants refetch
 * after. A full revocation that succeeded leaves `offer` set (what was revoked) until dismissed.
 */
function useSharingChange() {
  const invalidate = useInvalidate()
  const [offer, setOffer] = useState<string | null>(null)
  const chain = useChainAction()
  const change = useMutation({
    mutationFn: async ({ key, run, message }: { key: string; run: (step: ChainStep) => Promise<unknown>; message: string; revoked?: string }) => {
      await chain.run(run, { key }) // the answer's tx_hash becomes the link
      return message
    },
    onMutate: () => setOffer(null),
    onSuccess: (_message, { revoked }) => {
      if (revoked) setOffer(revoked)
      return invalidate('grants', 'patientAudit')
    },
  })
  const act: Act = (key, run, message, revoked) => change.mutate({ key, run, message, revoked })
  const busy = change.isPending ? change.variables.key : null
  return { act, busy, chain, done: change.isSuccess ? change.data : null, error: change.error, offer, dismissOffer: () => setOffer(null) }
}

export function Sharing() {
  const grants = usePatientGrants()
  const { act, busy, chain, done, error, offer, dismissOffer } = useSharingChange()
  const { confirm, dialog } = useConfirm()
  const list = grants.data ?? []
  const intro = (
    <>
      <p>
        Doctors see only what you approved, and only until the approval expires. You can take access back at any moment; it ends as soon
        as the transaction is mined.
      </p>
      <ChainProgress state={chain.state} />
      {done && (
        <Notice kind="success">
          {done} <TxLink hash={chain.state.txHash} />
        </Notice>
      )}
      {offer && <CancelSignaturesOffer revoked={offer} onDismiss={dismissOffer} />}
      <ErrorNotice error={error} title="Nothing was changed" />
      {dialog}
    </>
  )
  return (
    <QueryCard id="sharing-title" title="Sharing" emptyText="You are not sharing any record right now." what="shared records"
      query={grants} items={list} intro={intro} footer={<RevokeByAddress act={act} busy={busy} stageOf={chain.stageOf} confirm={confirm} />}>
      {list.map((grant) => (
        <GrantCard key={grant.doctor} grant={grant} act={act} busy={busy} stageOf={chain.stageOf} confirm={confirm} />
      ))}
    </QueryCard>
  )
}
