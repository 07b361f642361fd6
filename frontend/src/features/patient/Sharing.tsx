/** Revoke a doctor's access, to everything or to some records. */
import { useState, type FormEvent } from 'react'
import { isAddress } from 'viem'
import { ErrorNotice, Notice, SignButton } from '../../components/ui'
import { parseIds } from '../../lib/format'
import { useSession } from '../../session/SessionContext'

export function Sharing() {
  const { api, signAction } = useSession()
  const [doctor, setDoctor] = useState('')
  const [ids, setIds] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [done, setDone] = useState<string | null>(null)
  const recordIds = ids.trim() ? parseIds(ids) : []
  const valid = isAddress(doctor.trim()) && recordIds !== null

  const revoke = async (event?: FormEvent) => {
    event?.preventDefault()
    if (!valid || recordIds === null) return
    setBusy(true)
    setError(null)
    setDone(null)
    try {
      const params: Record<string, unknown> = { doctor: doctor.trim() }
      if (recordIds.length) params.recordIds = recordIds
      const signed = await signAction('revokeAccess', params)
      await api.access.revoke({
        doctorAddress: doctor.trim(),
        ...(recordIds.length ? { recordIds } : {}),
        signature: signed.signature,
        nonce: signed.nonce,
        deadline: signed.deadline,
      })
      setDone(recordIds.length ? `Access to record(s) ${recordIds.join(', ')} revoked.` : 'All access for this doctor revoked.')
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section className="card" aria-labelledby="sharing-title">
      <h2 id="sharing-title">Sharing</h2>
      <p>
        Doctors see only what you approved, and only until the approval expires. You can take access back at any moment; it ends
        as soon as the transaction is mined.
      </p>
      <form onSubmit={revoke} className="stack">
        <label className="field">
          <span>Doctor's address</span>
          <input type="text" value={doctor} onChange={(e) => setDoctor(e.target.value)} placeholder="0x…" spellCheck={false} />
        </label>
        <label className="field">
          <span>Record numbers (optional)</span>
          <input type="text" value={ids} onChange={(e) => setIds(e.target.value)} placeholder="e.g. 0, 3, 4 — empty means all records" />
          {recordIds === null && <span className="hint error-text">Use record numbers separated by commas.</span>}
        </label>
        <SignButton
          variant="danger"
          onClick={() => void revoke()}
          disabled={!valid}
          busy={busy}
          explain="Signs a “RevokeAccess” instruction (EIP-712) for this doctor; HealthLedger sends it to your record contract and pays the fee."
        >
          {recordIds && recordIds.length ? `Sign revocation of ${recordIds.length} record(s)` : 'Sign revocation of all access'}
        </SignButton>
      </form>
      {done && <Notice kind="success">{done}</Notice>}
      <ErrorNotice error={error} title="Access was not revoked" />
    </section>
  )
}
