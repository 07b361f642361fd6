/**
 * Registrar: approve a clinic to issue bills and be paid (BillPayments' `approveClinic`), or withdraw
 * the approval. A doctor may bill a patient only under a live write grant and be paid at their own
 * address; a clinic's billing office needs neither once approved. HealthLedger's relayer sends the
 * transaction (it holds the registrar role), so the registrar signs nothing, as for the doctor registry.
 */
import { useMutation } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { isAddress } from 'viem'
import { useBillsApi, useInvalidate } from '../../api/queries'
import { Address, ErrorNotice, Notice } from '../../components/ui'
import { TxLink } from '../../components/progress/ChainProgress'

export function Clinics() {
  const bills = useBillsApi()
  const invalidate = useInvalidate()
  const [address, setAddress] = useState('')
  const change = useMutation({
    mutationFn: ({ clinic, approved }: { clinic: string; approved: boolean }) => bills.setClinic(clinic, approved),
    onSuccess: () => void invalidate('bills'),
  })
  const clinic = address.trim()
  const act = (approved: boolean) => (event?: FormEvent) => {
    event?.preventDefault()
    change.mutate({ clinic, approved })
  }
  const done = change.data
  return (
    <section className="card" aria-labelledby="clinics-title">
      <h2 id="clinics-title">Billing clinics</h2>
      <p>
        An approved clinic may bill any patient and be named as the payee of a doctor's bill. Withdrawing the approval stops new bills;
        bills already issued stay payable.
      </p>
      <form onSubmit={act(true)} className="stack">
        <label className="field">
          <span>Clinic's wallet address</span>
          <input type="text" value={address} onChange={(e) => setAddress(e.target.value)} placeholder="0x…" spellCheck={false} />
        </label>
        <div>
          <button type="submit" className="btn btn-primary" disabled={change.isPending || !isAddress(clinic)}>
            Approve clinic
          </button>{' '}
          <button type="button" className="btn btn-danger" disabled={change.isPending || !isAddress(clinic)} onClick={() => act(false)()}>
            Withdraw approval
          </button>
        </div>
      </form>
      {change.isPending && <p className="muted">Sending the transaction…</p>}
      {done && (
        <Notice kind="success">
          <Address value={done.clinic} /> {done.approved ? 'approved' : 'no longer approved'}
          {done.status === 'pending' ? ' (sent; not mined yet)' : ''}. <TxLink hash={done.txHash} />
        </Notice>
      )}
      <ErrorNotice error={change.error} title="The clinic was not changed" />
    </section>
  )
}
