/**
 * A bill record's payment status next to it in the patient's records ("Paid", "Open, due …"), from
 * the patient's bills (one shared query for every row). Nothing for other records, for a bill record
 * without a payment request, or when the server has no bills.
 */
import { useBills } from '../../api/queries'
import type { MedicalRecord } from '../../api/types'
import { Badge } from '../../components/ui'
import { billsByRecord, billStatus, dueDateText } from '../../lib/bills'

export function RecordBillBadge({ record }: { record: Pick<MedicalRecord, 'record_type' | 'record_id'> }) {
  const isBill = record.record_type === 'bill' && record.record_id !== null && record.record_id !== undefined
  const bills = useBills('patient', { enabled: isBill })
  if (!isBill || !bills.data) return null
  const bill = billsByRecord(bills.data.bills).get(record.record_id as number)
  if (!bill) return null
  const status = billStatus(bill)
  return (
    <div className="small">
      <a href="#/bills">
        <Badge kind={status.kind}>{status.label}</Badge>
      </a>
      {bill.status === 'open' && <span className="muted"> due {dueDateText(bill.dueDate)}</span>}
    </div>
  )
}
