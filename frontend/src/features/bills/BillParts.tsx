/** Pieces the bills screens share: the status badge, the amounts, a paid bill's receipt, and how an
 * action panel reports its step, its error and closes. */
import type { Bill } from '../../api/bills'
import { useBillReceipt } from '../../api/queries'
import { TxLink } from '../../components/progress/ChainProgress'
import { readableError } from '../../api/errors'
import { Badge, ErrorNotice, Notice } from '../../components/ui'
import { billStatus, formatAmount, receiptView } from '../../lib/bills'
import { formatDate } from '../../lib/format'
import { saveBlob } from '../../lib/download'

/**
 * Shown above a bill list the server marked `partial`: its scan for bills issued directly on chain
 * (not through HealthLedger) did not finish, so such a bill may be missing until a later refresh.
 */
export function PartialListNotice({ partial }: { partial: boolean | undefined }) {
  if (!partial) return null
  return (
    <Notice kind="warning" title="This list may be incomplete">
      Bills issued directly on the blockchain could not all be looked up just now. Those issued through HealthLedger are all here; the rest appear on a later refresh.
    </Notice>
  )
}

export function BillStatusBadge({ bill }: { bill: Bill }) {
  const status = billStatus(bill)
  return <Badge kind={status.kind}>{status.label}</Badge>
}

/** "120 TUSD", with "paid 20, 100 left" while partly paid and the refunded amount when any. */
export function BillAmounts({ bill }: { bill: Bill }) {
  const partly = bill.status === 'open' && BigInt(bill.paid) > 0n
  return (
    <>
      {formatAmount(bill.amount, bill.token)}
      {partly && (
        <div className="small">
          paid {formatAmount(bill.paid, bill.token)}, {formatAmount(bill.remaining, bill.token)} left
        </div>
      )}
      {BigInt(bill.refunded) > 0n && <div className="small">refunded {formatAmount(bill.refunded, bill.token)}</div>}
    </>
  )
}

/** The transactions of a bill: issued, each payment and refund, the cancellation. */
export function BillTransactions({ bill }: { bill: Bill }) {
  return (
    <ul className="plain small">
      <li>
        Issued: <TxLink hash={bill.issuedTx} />
      </li>
      {bill.payments.map((p) => (
        <li key={p.txHash}>
          {p.partial ? 'Part payment' : 'Payment'} {formatAmount(p.amount, bill.token)}: <TxLink hash={p.txHash} />
        </li>
      ))}
      {bill.refunds.map((r) => (
        <li key={r.txHash}>
          Refund {formatAmount(r.amount, bill.token)}: <TxLink hash={r.txHash} />
        </li>
      ))}
      {bill.cancelledTx && (
        <li>
          Cancelled: <TxLink hash={bill.cancelledTx} />
        </li>
      )}
    </ul>
  )
}

/** A paid bill's receipt: the FHIR PaymentReconciliation, readable, with its raw JSON to download. */
export function ReceiptPanel({ bill, onClose }: { bill: Bill; onClose: () => void }) {
  const receipt = useBillReceipt(bill.billId)
  const view = receipt.data ? receiptView(receipt.data) : null
  return (
    <section className="card" aria-labelledby={`receipt-${bill.billId}`} role="region">
      <h3 id={`receipt-${bill.billId}`}>Receipt</h3>
      {receipt.isPending && <p className="muted">Loading the receipt…</p>}
      <ErrorNotice error={receipt.error} title="Could not load the receipt" />
      {view && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>{view.status ?? '—'}</dd>
            <dt>Amount paid</dt>
            <dd>{view.amount ?? '—'}</dd>
            <dt>Paid on</dt>
            <dd>{view.paymentDate ?? '—'}</dd>
            <dt>Receipt created</dt>
            <dd>{view.created ? formatDate(view.created) : '—'}</dd>
            <dt>Invoice</dt>
            <dd>{view.invoice ? <code>{view.invoice}</code> : '—'}</dd>
            <dt>Transaction</dt>
            <dd>{view.txHash ? <TxLink hash={view.txHash} /> : '—'}</dd>
          </dl>
          {view.lines.length > 1 && (
            <ul className="plain small">
              {view.lines.map((line, i) => (
                <li key={i}>
                  {line.date ?? ''} {line.amount ?? ''} {line.txHash && <TxLink hash={line.txHash} />}
                </li>
              ))}
            </ul>
          )}
          <p className="hint">A FHIR R4 PaymentReconciliation, built from the payment on the chain; any health system can read it.</p>
          <button type="button" className="btn btn-secondary" onClick={() => saveBlob(new Blob([JSON.stringify(receipt.data, null, 2)], { type: 'application/fhir+json' }), `receipt-${bill.billId.slice(2, 10)}.fhir.json`)}>
            Download receipt (FHIR JSON)
          </button>{' '}
        </>
      )}
      <CloseButton onClose={onClose} />
    </section>
  )
}

/** An action panel's current step (read out as it changes) and, when it failed, why. */
export function ActionStatus({ progress, error, failedTitle }: { progress?: string | null; error: unknown; failedTitle: string }) {
  return (
    <>
      {progress && (
        <p role="status" aria-live="polite">
          {progress}
        </p>
      )}
      {error ? (
        <Notice kind="error" title={failedTitle}>
          {readableError(error)}
        </Notice>
      ) : null}
    </>
  )
}

export function CloseButton({ onClose }: { onClose: () => void }) {
  return (
    <button type="button" className="btn btn-secondary" onClick={onClose}>
      Close
    </button>
  )
}
