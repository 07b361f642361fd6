/** Access requests from doctors: approve (choosing records and a duration) or deny, each signed. */
import { useMutation } from '@tanstack/react-query'
import { useState } from 'react'
import { useInvalidate, usePatientRecords, usePatientRequests } from '../../api/queries'
import { isOnChain, type AccessRequest, type MedicalRecord } from '../../api/types'
import { QueryCard } from '../../components/QueryState'
import { ChainProgress, StageButton, TxLink } from '../../components/progress/ChainProgress'
import { useChainAction } from '../../components/progress/useChainAction'
import { Address, Badge, ErrorNotice, Notice } from '../../components/ui'
import { addedBy, formatDate, recordTypeLabel } from '../../lib/format'
import { useSession } from '../../session/SessionContext'
import { KeySignatureStep } from './KeySignatureStep'

const DAY = 86_400

type Outcome = { text: string; txHash: string | null }

function RequestCard({ request, records, onDone }: { request: AccessRequest; records: MedicalRecord[]; onDone: (outcome: Outcome) => void }) {
  const { api, signAction, keySignature } = useSession()
  const [selected, setSelected] = useState<number[]>([])
  const [days, setDays] = useState(7)
  const doctor = request.doctor
  const confirmed = records.filter(isOnChain)

  const chain = useChainAction()
  const respond = useMutation({
    mutationFn: (action: 'approve' | 'deny') => chain.run(async (step) => {
      const signed =
        action === 'approve'
          ? await signAction('approveRecords', { doctor, recordIds: selected, duration: days * DAY })
          : await signAction('denyAccess', { doctor })
      step.signed()
      const answer = await api.access.respond({
        requestId: request.id,
        action,
        selectedRecords: action === 'approve' ? selected : [],
        durationSeconds: action === 'approve' ? days * DAY : undefined,
        walletSignature: keySignature ?? undefined,
        approvalSignature: signed.signature,
        nonce: signed.nonce,
        deadline: signed.deadline,
      })
      const text = action === 'approve' ? `Approved ${selected.length} record(s) for ${days} day(s).` : 'Request denied.'
      return { text, txHash: answer.tx_hash }
    }, { key: action, txHashOf: (outcome) => outcome.txHash }),
    // The refetch drops the answered request (and this card): the parent keeps the outcome on screen.
    onSuccess: onDone,
  })
  const busy = respond.isPending ? respond.variables : null

  if (respond.isSuccess) return <Notice kind="success">{respond.data.text} <TxLink hash={respond.data.txHash} /></Notice>
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
      <p className="hint">Sharing needs your encryption key so the doctor can be given access to these files:</p>
      <KeySignatureStep compact />
      <div className="row">
        <StageButton
          onClick={() => respond.mutate('approve')}
          disabled={selected.length === 0 || !keySignature || busy !== null}
          stage={chain.stageOf('approve')}
          explain={`Signs an “ApproveRecords” authorisation (EIP-712): this doctor may read the ${selected.length} selected record(s) for ${days} day(s). You can revoke it at any time.`}
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
      <ErrorNotice error={respond.error} title="Your answer was not sent" />
    </article>
  )
}

export function Requests() {
  const requests = usePatientRequests()
  const records = usePatientRecords()
  const invalidate = useInvalidate()
  const items = requests.data ?? []
  const [outcome, setOutcome] = useState<Outcome | null>(null)
  return (
    <QueryCard id="requests-title" title="Access requests" emptyText="No doctor has asked for access." what="access requests"
      query={requests} items={items} intro={outcome && <Notice kind="success">{outcome.text} <TxLink hash={outcome.txHash} /></Notice>}>
      {items.map((request) => (
        <RequestCard
          key={request.id}
          request={request}
          records={records.data ?? []}
          onDone={(done) => {
            setOutcome(done)
            void invalidate('patientRequests', 'grants', 'patientAudit')
          }}
        />
      ))}
    </QueryCard>
  )
}
