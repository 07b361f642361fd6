/**
 * Write access (Sharing screen): which doctors may add records to the patient's vault now (read from
 * the chain), granting it to a registered doctor for some days, and taking it back. Write and read
 * access are independent: a doctor who may write still reads only what the patient shared.
 */
import { useMutation } from '@tanstack/react-query'
import { useState } from 'react'
import { isAddress } from 'viem'
import { useInvalidate, usePatientWriteGrants } from '../../api/queries'
import type { PatientWriteGrant } from '../../api/types'
import { useConfirm } from '../../components/ConfirmDialog'
import { ACTIONS_HEADER, DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { ChainProgress, StageButton, TxLink } from '../../components/progress/ChainProgress'
import { buttonLabel, type ChainStage } from '../../components/progress/chainStage'
import { useChainAction, type ChainAction } from '../../components/progress/useChainAction'
import { Address, Countdown, ErrorNotice, Notice } from '../../components/ui'
import { formatDate, shortAddress } from '../../lib/format'
import { useSession } from '../../session/SessionContext'
import { CancelSignaturesOffer } from './CancelSignatures'
import { DoctorPicker } from './DoctorPicker'

const DAY = 86_400

type Change = { kind: 'grant'; doctor: string; days: number } | { kind: 'revoke'; doctor: string; who: string }

const nameOf = (grant: PatientWriteGrant) => grant.doctorName ?? shortAddress(grant.doctorAddress)

/** Grant or revoke, one at a time; the list and the audit trail refetch after either. */
function useWriteChange(chain: ChainAction) {
  const { api, signAction } = useSession()
  const invalidate = useInvalidate()
  const key = (change: Change) => `${change.kind}:${change.doctor.toLowerCase()}`
  return useMutation({
    mutationFn: (change: Change) => chain.run(async (step): Promise<{ text: string; txHash: string }> => {
      if (change.kind === 'grant') {
        const duration = change.days * DAY
        const signed = await signAction('approveWrite', { doctor: change.doctor, duration })
        step.signed()
        const result = await api.access.grantWrite({
          doctorAddress: change.doctor,
          durationDays: change.days, // the server checks the signed duration is exactly days * 86400
          signature: signed.signature,
          nonce: signed.nonce,
          deadline: signed.deadline,
        })
        return { text: `${shortAddress(result.doctorAddress)} may add records until ${formatDate(result.expiresAt)}.`, txHash: result.txHash }
      }
      const signed = await signAction('revokeWrite', { doctor: change.doctor })
      step.signed()
      const result = await api.access.revokeWrite({ doctorAddress: change.doctor, signature: signed.signature, nonce: signed.nonce, deadline: signed.deadline })
      return { text: `Write access of ${change.who} revoked.`, txHash: result.txHash }
    }, { key: key(change), txHashOf: (done) => done.txHash }),
    onSuccess: () => invalidate('writeGrants', 'patientAudit'),
  })
}

function GrantWriteForm({ busy, stage, onGrant }: { busy: boolean; stage: ChainStage; onGrant: (doctor: string, days: number) => void }) {
  const [doctor, setDoctor] = useState('')
  const [days, setDays] = useState(30)
  const valid = isAddress(doctor)
  return (
    <details className="stack">
      <summary>Let a doctor add records</summary>
      <DoctorPicker name="write-doctor" value={doctor} onChange={setDoctor} />
      <label className="field inline">
        <span>For how many days (write access)</span>
        <input type="number" min={1} max={365} value={days} onChange={(e) => setDays(Math.max(1, Math.min(365, Number(e.target.value) || 1)))} />
      </label>
      <StageButton
        onClick={() => onGrant(doctor, days)}
        disabled={!valid || busy}
        stage={stage}
        explain={`Signs an “ApproveWrite” authorisation (EIP-712): this doctor may add records to your vault for ${days} day(s). It does not let them read anything.`}
      >
        Sign write access for {valid ? shortAddress(doctor) : 'this doctor'} ({days} day(s))
      </StageButton>
    </details>
  )
}

export function WriteAccess() {
  const grants = usePatientWriteGrants()
  const chain = useChainAction()
  const change = useWriteChange(chain)
  const [offer, setOffer] = useState<string | null>(null)
  const { confirm, dialog } = useConfirm()
  const list = grants.data ?? []
  const busy = change.isPending ? change.variables : null
  const run = (next: Change) => {
    setOffer(null)
    change.mutate(next, { onSuccess: () => next.kind === 'revoke' && setOffer(`write access for ${next.who}`) })
  }
  // Taking write access back is asked for first, with what changes (as revoking read access is).
  const askRevoke = (grant: PatientWriteGrant) => {
    const who = nameOf(grant)
    confirm(
      {
        title: `Stop ${who} adding records?`,
        body: (
          <p>
            {who} will no longer be able to add records to your vault once the revocation is mined (today they may until{' '}
            {formatDate(grant.expiresAt)}). Records they already added stay in your vault, and what you shared with them to read does not
            change. You sign an instruction in your wallet.
          </p>
        ),
        confirmLabel: 'Revoke write access',
      },
      () => run({ kind: 'revoke', doctor: grant.doctorAddress, who }),
    )
  }

  const intro = (
    <>
      <p>A doctor with write access can add records to your vault; they cannot read records you have not shared.</p>
      <ChainProgress state={chain.state} />
      {change.isSuccess && (
        <Notice kind="success">
          {change.data.text} <TxLink hash={change.data.txHash} />
        </Notice>
      )}
      {offer && <CancelSignaturesOffer revoked={offer} onDismiss={() => setOffer(null)} />}
      <ErrorNotice error={change.error} title="Write access was not changed" />
      {dialog}
    </>
  )
  return (
    <QueryCard id="write-access-title" title="Write access" emptyText="No doctor can add records to your vault." what="write grants"
      query={grants} items={list} intro={intro}
      footer={<GrantWriteForm busy={busy !== null} stage={busy?.kind === 'grant' ? chain.state.stage : 'idle'} onGrant={(doctor, days) => run({ kind: 'grant', doctor, days })} />}>
      <DataTable
        rows={list}
        rowKey={(grant) => grant.doctorAddress}
        columns={[
          { header: 'Doctor', cell: (grant) => <>{grant.doctorName ?? 'A doctor'} <Address value={grant.doctorAddress} /></> },
          { header: 'May add records until', cell: (grant) => <>{formatDate(grant.expiresAt)} <Countdown until={grant.expiresAt} /></> },
          {
            header: ACTIONS_HEADER,
            cell: (grant) => (
              <button
                type="button"
                className="btn btn-small btn-danger"
                disabled={busy !== null}
                aria-label={`Revoke write access of ${nameOf(grant)}`}
                onClick={() => askRevoke(grant)}
              >
                {buttonLabel(chain.stageOf(`revoke:${grant.doctorAddress.toLowerCase()}`)) ?? 'Revoke'}
              </button>
            ),
          },
        ]}
      />
    </QueryCard>
  )
}
