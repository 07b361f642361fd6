/**
 * "Find a bill by its transaction" (POST /api/bills/index), under both bill lists.
 *
 * A bill issued straight from a wallet (`issueBill`, not through HealthLedger) reaches the lists by
 * their scan of the chain's BillIssued logs, which finds the patient's and the payee's bills only
 * (the issuer is not an indexed topic), a bounded stretch of blocks per refresh. The issuer of a bill
 * paid to a clinic, or anyone whose list is marked incomplete, pastes the transaction hash here.
 */
import { useMutation } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { useBillsApi, useInvalidate } from '../../api/queries'
import { Notice } from '../../components/ui'
import { formatAmount, parseTxHash } from '../../lib/bills'
import { ActionStatus } from './BillParts'

export function FindBillByTransaction() {
  const bills = useBillsApi()
  const invalidate = useInvalidate()
  const [text, setText] = useState('')
  const parsed = parseTxHash(text)
  const find = useMutation({
    mutationFn: (txHash: string) => bills.index(txHash),
    onSuccess: () => void invalidate('bills'),
  })
  const submit = (event: FormEvent) => {
    event.preventDefault()
    if (parsed.ok) find.mutate(parsed.value)
  }
  const found = find.data?.bills ?? []
  return (
    <details className="find-bill">
      <summary>Missing a bill issued from a wallet? Find it by its transaction</summary>
      <form aria-label="Find a bill by its transaction" onSubmit={submit}>
        <label className="field">
          <span>Transaction hash</span>
          <input
            type="text"
            value={text}
            onChange={(e) => {
              setText(e.target.value)
              find.reset()
            }}
            placeholder="0x…"
            spellCheck={false}
            autoComplete="off"
            aria-invalid={(text !== '' && !parsed.ok) || undefined}
            disabled={find.isPending}
          />
          {text !== '' && !parsed.ok && <span className="field-error">{parsed.error}</span>}
        </label>
        <button type="submit" className="btn btn-secondary" disabled={!parsed.ok || find.isPending}>
          {find.isPending ? 'Looking it up…' : 'Find the bill'}
        </button>
      </form>
      {find.isSuccess && (
        <Notice kind="success" title={found.length === 1 ? 'Found 1 bill' : `Found ${found.length} bills`}>
          {found.map((bill) => formatAmount(bill.amount, bill.token)).join(', ')}: now in the list.
        </Notice>
      )}
      <ActionStatus error={find.error} failedTitle="No bill was found" />
    </details>
  )
}
