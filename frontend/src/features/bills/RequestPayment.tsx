/**
 * Doctors: ask the patient to pay a bill record on chain. Token from GET /api/bills/config, amount
 * (prefilled from the Invoice total when known), due date (+30 days), payee (the doctor by default).
 * One wallet prompt: the IssueBill authorisation (EIP-712); the relayer sends `issueBillBySig`, so
 * the doctor needs no ETH.
 */
import { useMutation } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { isPending } from '../../api/bills'
import { useBillingConfig, useBillsApi, useInvalidate } from '../../api/queries'
import { ErrorNotice, Notice, SignButton } from '../../components/ui'
import { TxLink } from '../../components/progress/ChainProgress'
import { amountText, defaultDueDate, dueDateSeconds, formatAmount, parseAmount } from '../../lib/bills'
import { shortAddress } from '../../lib/format'
import { useSession } from '../../session/SessionContext'
import { useWallet } from '../../wallet/WalletContext'
import { ActionStatus, CloseButton } from './BillParts'
import { signPayload } from './walletActions'

export function RequestPayment({
  patient,
  recordId,
  invoiceTotal,
  onClose,
}: {
  patient: string
  recordId: number
  /** The bill record's Invoice total, when it could be read (prefills the amount). */
  invoiceTotal?: number | null
  onClose?: () => void
}) {
  const { session } = useSession()
  const wallet = useWallet()
  const bills = useBillsApi()
  const invalidate = useInvalidate()
  const config = useBillingConfig()
  const tokens = config.data?.tokens ?? []
  const [tokenAddress, setTokenAddress] = useState<string | null>(null)
  // The configured token (with permit: the patient needs no ETH) before ETH, unless the doctor picks.
  const token = tokens.find((t) => t.address === tokenAddress) ?? tokens.find((t) => t.permit) ?? tokens[0]
  const [amount, setAmount] = useState<string | null>(null)
  const [due, setDue] = useState(() => defaultDueDate())
  const [payee, setPayee] = useState('')
  const amountValue = amount ?? (token ? amountText(invoiceTotal, token.decimals) : '')
  const parsed = token ? parseAmount(amountValue, token) : null
  const dueSeconds = dueDateSeconds(due)
  const dueError = dueSeconds === null ? 'Choose a due date.' : dueSeconds * 1000 < Date.now() ? 'The due date cannot be in the past.' : null
  const payeeError = payee.trim() && !/^0x[0-9a-fA-F]{40}$/.test(payee.trim()) ? 'Enter a 0x address, or leave empty to be paid yourself.' : null
  const ready = !!token && !!parsed?.ok && !dueError && !payeeError

  const issue = useMutation({
    mutationFn: async () => {
      if (!token || !parsed?.ok || dueSeconds === null) throw new Error('Complete the form first.')
      const payload = await bills.issueTypedData({
        patientAddress: patient,
        recordId,
        token: token.address,
        amount: parsed.value.toString(),
        dueDate: dueSeconds,
        ...(payee.trim() ? { payee: payee.trim() } : {}),
      })
      const signature = await signPayload(wallet, payload)
      return bills.issue({ payload, signature })
    },
    onSettled: () => void invalidate('bills'),
  })

  const submit = (event: FormEvent) => {
    event.preventDefault()
    if (ready) issue.mutate()
  }

  if (issue.data) {
    const result = issue.data
    return (
      <Notice kind="success" title={isPending(result) ? 'Payment request sent' : 'Payment requested'}>
        {isPending(result) ? (
          <>
            The transaction is sent but not mined yet; the bill shows under “Bills” once it is. <TxLink hash={result.txHash} />
          </>
        ) : (
          <>
            The patient can now pay {formatAmount(result.amount, result.token)} until {due}. <TxLink hash={result.issuedTx} />
          </>
        )}
        {onClose && (
          <p>
            <CloseButton onClose={onClose} />
          </p>
        )}
      </Notice>
    )
  }

  return (
    <form className="stack" onSubmit={submit} aria-label="Request payment">
      <h3>Request payment for record #{recordId}</h3>
      {config.isPending && <p className="muted">Loading the payment options…</p>}
      <ErrorNotice error={config.error} title="Bills are not available" />
      {token && (
        <>
          <div className="structured-grid">
            <label className="field">
              <span>Token</span>
              <select value={token.address} onChange={(e) => setTokenAddress(e.target.value)} disabled={issue.isPending}>
                {tokens.map((t) => (
                  <option key={t.address} value={t.address}>
                    {t.symbol} ({t.name}){t.permit ? '' : ', patient pays gas'}
                  </option>
                ))}
              </select>
            </label>
            <label className="field">
              <span>Amount ({token.symbol})</span>
              <input value={amountValue} inputMode="decimal" onChange={(e) => setAmount(e.target.value)} aria-invalid={(parsed && !parsed.ok) || undefined} disabled={issue.isPending} />
              {invoiceTotal ? <span className="hint">From the invoice total.</span> : null}
              {parsed && !parsed.ok && amountValue && <span className="field-error">{parsed.error}</span>}
            </label>
            <label className="field">
              <span>Due date</span>
              <input type="date" value={due} onChange={(e) => setDue(e.target.value)} aria-invalid={!!dueError || undefined} disabled={issue.isPending} />
              {dueError && <span className="field-error">{dueError}</span>}
            </label>
            <label className="field">
              <span>Payee (optional)</span>
              <input value={payee} placeholder={session?.address ?? ''} onChange={(e) => setPayee(e.target.value)} aria-invalid={!!payeeError || undefined} disabled={issue.isPending} />
              <span className="hint">Empty: you are paid. Or a clinic address the registrar approved.</span>
              {payeeError && <span className="field-error">{payeeError}</span>}
            </label>
          </div>
          <SignButton
            onClick={() => ready && issue.mutate()}
            disabled={!ready}
            busy={issue.isPending}
            explain={
              `Your wallet signs an “IssueBill” authorisation (EIP-712) for ${parsed?.ok ? formatAmount(parsed.value, token) : 'this amount'} ` +
              `from patient ${shortAddress(patient)} for record #${recordId}, due ${due}, with a one-time number and an expiry. ` +
              'HealthLedger sends it to the BillPayments contract and pays the network fee; nothing personal goes on chain beyond the payer, payee and amount.'
            }
          >
            Sign IssueBill and request payment
          </SignButton>
          <ActionStatus error={issue.error} failedTitle="The payment was not requested" />
        </>
      )}
      {onClose && (
        <p>
          <CloseButton onClose={onClose} />
        </p>
      )}
    </form>
  )
}

