/**
 * Patients: their bills (GET /api/bills?role=patient), open ones first, and paying them.
 * - A token bill with permit: two signatures and no ETH (EIP-2612 permit for the exact amount, then
 *   the PayBill authorisation); HealthLedger's relayer sends `payBillWithPermit` and pays the gas.
 * - An ETH bill: one transaction from the wallet (which shows the amount), then POST sync until mined.
 * Partial amounts are allowed (the field defaults to what is left). A paid bill has its receipt.
 */
import { useMutation } from '@tanstack/react-query'
import { useState } from 'react'
import { isPending, type Bill } from '../../api/bills'
import { useBills, useBillsApi, useInvalidate, usePatientRecords } from '../../api/queries'
import { ACTIONS_HEADER, DataTable } from '../../components/DataTable'
import { QueryCard } from '../../components/QueryState'
import { Badge, ErrorNotice, Notice, SignButton } from '../../components/ui'
import { dueDateText, formatAmount, isEth, parseAmount, sortBills } from '../../lib/bills'
import { shortAddress } from '../../lib/format'
import { useWallet } from '../../wallet/WalletContext'
import { ActionStatus, BillAmounts, BillStatusBadge, BillTransactions, CloseButton, PartialListNotice, ReceiptPanel } from './BillParts'
import { FindBillByTransaction } from './FindBillByTransaction'
import { sendTransaction, signPayload, syncUntilMined } from './walletActions'

type PayStep = 'idle' | 'permit' | 'payBill' | 'sending' | 'mining'
const STEP_TEXT: Record<PayStep, string> = {
  idle: '',
  permit: 'Sign 1 of 2 in your wallet: the permit…',
  payBill: 'Sign 2 of 2 in your wallet: the payment…',
  sending: 'Confirm the transaction in your wallet…',
  mining: 'Waiting for the transaction to be mined…',
}

function PayPanel({ bill, onClose }: { bill: Bill; onClose: () => void }) {
  const bills = useBillsApi()
  const wallet = useWallet()
  const invalidate = useInvalidate()
  const remaining = BigInt(bill.remaining)
  // The heading keeps the amount due when the panel opened: once paid, the refetched bill has 0 left,
  // and "Pay 0 tUSD" above "Paid 420 tUSD." read as if nothing had been paid.
  const [dueWhenOpened] = useState(() => bill.remaining)
  const [text, setText] = useState(() => formatAmount(remaining, bill.token).split(' ')[0])
  const [step, setStep] = useState<PayStep>('idle')
  const [outcome, setOutcome] = useState<string | null>(null)
  const parsed = parseAmount(text, bill.token, remaining)
  const eth = isEth(bill.token)

  const pay = useMutation({
    mutationFn: async () => {
      if (!parsed.ok) throw new Error(parsed.error)
      const amount = parsed.value.toString()
      if (eth) {
        const tx = await bills.payTransaction(bill.billId, amount)
        setStep('sending')
        const hash = await sendTransaction(wallet, tx)
        setStep('mining')
        return syncUntilMined(bills, bill.billId, hash)
      }
      const typed = await bills.payTypedData(bill.billId, { amount })
      setStep('permit')
      const permitSignature = await signPayload(wallet, typed.permit)
      setStep('payBill')
      const payBillSignature = await signPayload(wallet, typed.payBill)
      setStep('mining')
      return bills.pay(bill.billId, { permit: { payload: typed.permit, signature: permitSignature }, payBill: { payload: typed.payBill, signature: payBillSignature } })
    },
    onSuccess: (result) => {
      setOutcome(isPending(result) ? `Payment sent (transaction ${result.txHash.slice(0, 10)}…); it shows here once mined.` : `Paid ${parsed.ok ? formatAmount(parsed.value, bill.token) : ''}.`)
    },
    onSettled: () => {
      setStep('idle')
      void invalidate('bills', 'patientAudit', 'records')
    },
  })

  return (
    <section className="card" aria-labelledby={`pay-${bill.billId}`} role="region">
      <h3 id={`pay-${bill.billId}`}>Pay {formatAmount(outcome ? dueWhenOpened : bill.remaining, bill.token)}</h3>
      {outcome ? (
        <Notice kind="success" title="Payment made">
          {outcome}
        </Notice>
      ) : (
        <>
          <label className="field">
            <span>Amount ({bill.token.symbol})</span>
            <input value={text} inputMode="decimal" onChange={(e) => setText(e.target.value)} aria-invalid={!parsed.ok || undefined} disabled={pay.isPending} />
            <span className="hint">You may pay part of it now; the rest stays open.</span>
            {!parsed.ok && <span className="field-error">{parsed.error}</span>}
          </label>
          {eth ? (
            <SignButton
              onClick={() => pay.mutate()}
              disabled={!parsed.ok}
              busy={pay.isPending}
              explain={`Your wallet sends ${parsed.ok ? formatAmount(parsed.value, bill.token) : 'the amount'} to the bill's contract, which passes it straight to ${shortAddress(bill.payee)}. Your wallet shows the amount and the network fee (paid in ETH) before you confirm.`}
            >
              Pay with ETH
            </SignButton>
          ) : (
            <SignButton
              onClick={() => pay.mutate()}
              disabled={!parsed.ok || !bill.token.permit}
              busy={pay.isPending}
              explain={
                `Two signatures, no ETH needed: first a “Permit” lets the bill's contract take exactly ${parsed.ok ? formatAmount(parsed.value, bill.token) : 'this amount'} ` +
                `from your ${bill.token.symbol} (EIP-2612, nothing more, until its deadline); then “PayBill” (EIP-712) says which bill it pays. ` +
                'HealthLedger sends both in one transaction and pays its network fee; the contract moves the amount straight to the payee.'
              }
            >
              Sign and pay with {bill.token.symbol}
            </SignButton>
          )}
          <ActionStatus progress={step !== 'idle' ? STEP_TEXT[step] : null} error={pay.error} failedTitle="The bill was not paid" />
        </>
      )}
      <CloseButton onClose={onClose} />
    </section>
  )
}

export function PatientBills() {
  const [paying, setPaying] = useState<string | null>(null)
  const [receipt, setReceipt] = useState<string | null>(null)
  const list = useBills('patient', { pollMs: 10_000 })
  const records = usePatientRecords()
  const bills = sortBills(list.data?.bills ?? [])
  const recordName = (recordId: number) => records.data?.find((r) => r.record_id === recordId)?.name
  const payingBill = bills.find((b) => b.billId === paying)
  const receiptBill = bills.find((b) => b.billId === receipt)
  const footer = (
    <>
      {payingBill && <PayPanel key={payingBill.billId} bill={payingBill} onClose={() => setPaying(null)} />}
      {receiptBill && <ReceiptPanel key={receiptBill.billId} bill={receiptBill} onClose={() => setReceipt(null)} />}
      <FindBillByTransaction />
    </>
  )
  return (
    <QueryCard id="bills-title" title="Your bills" emptyText="No bills. When a doctor asks you to pay a bill, it shows here." what="bills" query={list} items={bills} intro={<PartialListNotice partial={list.data?.partial} />} footer={footer}>
      <DataTable
        rows={bills}
        rowKey={(bill) => bill.billId}
        columns={[
          { header: 'Status', cell: (bill) => <BillStatusBadge bill={bill} /> },
          { header: 'Amount', cell: (bill) => <BillAmounts bill={bill} /> },
          {
            header: 'Due',
            cell: (bill) => (
              <>
                {dueDateText(bill.dueDate)} {bill.overdue && bill.status === 'open' && <Badge kind="bad">overdue</Badge>}
              </>
            ),
          },
          {
            header: 'Bill record',
            cell: (bill) => (
              <a href="#/records" title={`Record #${bill.recordId} in your records`}>
                {recordName(bill.recordId) ?? `Record #${bill.recordId}`}
              </a>
            ),
          },
          { header: 'Transactions', cell: (bill) => <BillTransactions bill={bill} /> },
          {
            header: ACTIONS_HEADER,
            className: 'actions',
            cell: (bill) => (
              <>
                {bill.status === 'open' && (
                  <button type="button" className="btn btn-small" onClick={() => setPaying(bill.billId)} aria-label={`Pay ${formatAmount(bill.remaining, bill.token)}`}>
                    Pay
                  </button>
                )}
                {bill.payments.length > 0 && (
                  <button type="button" className="btn btn-small btn-secondary" onClick={() => setReceipt(bill.billId)}>
                    Receipt
                  </button>
                )}
              </>
            ),
          },
        ]}
      />
      <ErrorNotice error={records.error} title="Could not load your records' names" />
    </QueryCard>
  )
}
