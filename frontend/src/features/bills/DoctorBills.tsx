/**
 * Doctors: the bills they issued or are paid by (GET /api/bills?role=issuer): status, paid and left,
 * due date, patient, transactions. Cancel an unpaid bill (a signed CancelBill the relayer sends);
 * refund a paid one from their own wallet (the refund sends the payee's own money: an approve for a
 * token bill, then refund; for ETH one refund with value), then POST sync.
 */
import { useMutation } from '@tanstack/react-query'
import { useState } from 'react'
import { isPending, type Bill } from '../../api/bills'
import { useBills, useBillsApi, useInvalidate, usePatientNames } from '../../api/queries'
import { ACTIONS_HEADER, DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { Notice, SignButton } from '../../components/ui'
import { dueDateText, formatAmount, parseAmount, sortBills } from '../../lib/bills'
import { useSession } from '../../session/SessionContext'
import { useWallet } from '../../wallet/WalletContext'
import { PatientName } from '../doctor/PatientName'
import { ActionStatus, BillAmounts, BillStatusBadge, BillTransactions, CloseButton, PartialListNotice } from './BillParts'
import { FindBillByTransaction } from './FindBillByTransaction'
import { sendTransaction, signPayload, syncUntilMined } from './walletActions'

function CancelPanel({ bill, onClose }: { bill: Bill; onClose: () => void }) {
  const bills = useBillsApi()
  const wallet = useWallet()
  const invalidate = useInvalidate()
  const cancel = useMutation({
    mutationFn: async () => {
      const payload = await bills.cancelTypedData(bill.billId)
      const signature = await signPayload(wallet, payload)
      return bills.cancel(bill.billId, { payload, signature })
    },
    onSettled: () => void invalidate('bills'),
  })
  return (
    <section className="card" role="region" aria-label="Cancel the bill">
      <h3>Cancel the bill of {formatAmount(bill.amount, bill.token)}</h3>
      {cancel.data ? (
        <Notice kind="success" title="Bill cancelled">
          {isPending(cancel.data) ? 'The cancellation is sent; the list updates once it is mined.' : 'The patient can no longer pay it.'}
        </Notice>
      ) : (
        <SignButton
          variant="danger"
          onClick={() => cancel.mutate()}
          busy={cancel.isPending}
          explain="Your wallet signs a “CancelBill” authorisation (EIP-712) for this bill only; HealthLedger sends it and pays the fee. An unpaid bill cannot be paid afterwards."
        >
          Sign CancelBill
        </SignButton>
      )}
      <ActionStatus error={cancel.error} failedTitle="The bill was not cancelled" />
      <CloseButton onClose={onClose} />
    </section>
  )
}

function RefundPanel({ bill, onClose }: { bill: Bill; onClose: () => void }) {
  const bills = useBillsApi()
  const wallet = useWallet()
  const invalidate = useInvalidate()
  const refundable = BigInt(bill.paid) - BigInt(bill.refunded)
  const [text, setText] = useState(() => formatAmount(refundable, bill.token).split(' ')[0])
  const [progress, setProgress] = useState<string | null>(null)
  const parsed = parseAmount(text, bill.token, refundable)
  const refund = useMutation({
    mutationFn: async () => {
      if (!parsed.ok) throw new Error(parsed.error)
      const transactions = await bills.refundTransactions(bill.billId, parsed.value.toString())
      let last = ''
      for (const [index, tx] of transactions.entries()) {
        setProgress(`Confirm transaction ${index + 1} of ${transactions.length} in your wallet…`)
        last = await sendTransaction(wallet, tx)
        setProgress(`Waiting for transaction ${index + 1} of ${transactions.length} to be mined…`)
        // Each one mined before the next (the refund needs the approval in place).
        await syncUntilMined(bills, bill.billId, last)
      }
      return last
    },
    onSettled: () => {
      setProgress(null)
      void invalidate('bills')
    },
  })
  return (
    <section className="card" role="region" aria-label="Refund the bill">
      <h3>Refund</h3>
      {refund.isSuccess ? (
        <Notice kind="success" title="Refunded">
          {formatAmount(parsed.ok ? parsed.value : 0n, bill.token)} went back to the patient.
        </Notice>
      ) : (
        <>
          <label className="field">
            <span>Amount to refund ({bill.token.symbol})</span>
            <input value={text} inputMode="decimal" onChange={(e) => setText(e.target.value)} aria-invalid={!parsed.ok || undefined} disabled={refund.isPending} />
            {!parsed.ok && <span className="field-error">{parsed.error}</span>}
          </label>
          <SignButton
            onClick={() => refund.mutate()}
            disabled={!parsed.ok}
            busy={refund.isPending}
            explain={`A refund sends your own ${bill.token.symbol} back to the patient, so it is a transaction from your wallet (it pays the network fee in ETH)${bill.token.permit ? ': first an approval for the amount, then the refund' : ''}.`}
          >
            Refund from my wallet
          </SignButton>
          <ActionStatus progress={progress} error={refund.error} failedTitle="The refund was not made" />
        </>
      )}
      <CloseButton onClose={onClose} />
    </section>
  )
}

export function DoctorBills() {
  const { session } = useSession()
  const list = useBills('issuer', { pollMs: 15_000 })
  const bills = sortBills(list.data?.bills ?? [])
  const names = usePatientNames(bills.map((b) => b.patient))
  const [action, setAction] = useState<{ kind: 'cancel' | 'refund'; billId: string } | null>(null)
  const chosen = action && bills.find((b) => b.billId === action.billId)
  const me = session?.address.toLowerCase()
  const footer = (
    <>
      {chosen &&
        (action.kind === 'cancel' ? <CancelPanel key={chosen.billId} bill={chosen} onClose={() => setAction(null)} /> : <RefundPanel key={chosen.billId} bill={chosen} onClose={() => setAction(null)} />)}
      <FindBillByTransaction />
    </>
  )
  return (
    <QueryCard id="doctor-bills-title" title="Bills you issued" emptyText="No bills yet. Add a bill record for a patient, then request payment." what="bills" query={list} items={bills} intro={<PartialListNotice partial={list.data?.partial} />} footer={footer}>
      <DataTable
        rows={bills}
        rowKey={(bill) => bill.billId}
        columns={[
          { header: 'Patient', cell: (bill) => <PatientName address={bill.patient} names={names} /> },
          { header: 'Status', cell: (bill) => <BillStatusBadge bill={bill} /> },
          { header: 'Amount', cell: (bill) => <BillAmounts bill={bill} /> },
          { header: 'Due', cell: (bill) => dueDateText(bill.dueDate) },
          { header: 'Record', cell: (bill) => `#${bill.recordId}` },
          { header: 'Transactions', cell: (bill) => <BillTransactions bill={bill} /> },
          {
            header: ACTIONS_HEADER,
            className: 'actions',
            cell: (bill) => (
              <>
                {bill.status === 'open' && BigInt(bill.paid) === 0n && bill.issuer.toLowerCase() === me && (
                  <button type="button" className="btn btn-small btn-secondary" onClick={() => setAction({ kind: 'cancel', billId: bill.billId })}>
                    Cancel
                  </button>
                )}
                {BigInt(bill.paid) > BigInt(bill.refunded) && bill.payee.toLowerCase() === me && (
                  <button type="button" className="btn btn-small btn-secondary" onClick={() => setAction({ kind: 'refund', billId: bill.billId })}>
                    Refund
                  </button>
                )}
              </>
            ),
          },
        ]}
      />
    </QueryCard>
  )
}
