/**
 * A structured record (FHIR JSON) as a readable card: a prescription's medication, dose, route, how
 * often, until when, quantity and refills; a report's results against their reference ranges, each
 * out-of-range value marked with a symbol and words ("High (above 16 g/dL)"), not colour alone; an
 * invoice's lines, total and issuer. The raw FHIR is behind a "Details" toggle. Anything without a
 * card (another resource, broken JSON) shows as text: React escapes it, nothing is injected as HTML.
 *
 * Used by the record preview (patients and doctors alike) and by the doctor's form ("what the patient
 * will see", before signing). Parsing lives in fhir/render.ts, tested on its own.
 */
import { useEffect, useState } from 'react'
import { Address, Badge } from '../ui'
import { formatDate } from '../../lib/format'
import { isOutOfRange, money, parseFhir, prettyJson, stayText, type FhirView, type InvoiceView, type PrescriptionView, type ReportView } from '../../fhir/render'
import './fhir.css'

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  if (children === null || children === undefined || children === '') return null
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  )
}

function when(value: string | null): string | null {
  return value ? formatDate(value) : null
}

function PrescriptionCard({ view }: { view: PrescriptionView }) {
  return (
    <div className="fhir-card" data-fhir-kind="prescription">
      <p className="fhir-card-kind">Prescription</p>
      <p className="fhir-card-title">{view.medication}</p>
      <dl className="facts">
        <Fact label="Dose">{view.dose}</Fact>
        <Fact label="Route">{view.route}</Fact>
        <Fact label="How often">{view.frequency}</Fact>
        <Fact label="For">{view.duration}</Fact>
        <Fact label="Instructions">{view.instruction}</Fact>
        <Fact label="Valid until">{view.validUntil ? formatDate(view.validUntil) : null}</Fact>
        <Fact label="Quantity">{view.quantity}</Fact>
        <Fact label="Refills">{view.refills === null ? null : String(view.refills)}</Fact>
        <Fact label="Code">{view.code}</Fact>
        <Fact label="Notes">{view.notes.length ? view.notes.join(' ') : null}</Fact>
        <Fact label="Prescribed">{when(view.authoredOn)}</Fact>
        <Fact label="Prescriber">{view.prescriber ? <Address value={view.prescriber} /> : null}</Fact>
      </dl>
    </div>
  )
}

function ReportCard({ view }: { view: ReportView }) {
  const outside = view.results.filter(isOutOfRange).length
  return (
    <div className="fhir-card" data-fhir-kind="report">
      <p className="fhir-card-kind">Result report</p>
      <p className="fhir-card-title">{view.title}</p>
      {outside > 0 && (
        <p className="fhir-flag-summary">
          <Badge kind="bad">⚠ {outside} result{outside === 1 ? '' : 's'} out of range</Badge>
        </p>
      )}
      <ul className="fhir-results" aria-label="Results">
        {view.results.map((result, index) => {
          const out = isOutOfRange(result)
          return (
            <li key={index} className={out ? 'fhir-result out-of-range' : 'fhir-result'}>
              <span className="fhir-result-name">{result.name}</span>
              <span className="fhir-result-value">
                {out && <span aria-hidden="true">{result.flag === 'low' ? '▼ ' : '▲ '}</span>}
                {result.value} {result.unit}
              </span>
              <span className="fhir-result-range">{result.range ? `Reference range: ${result.range}` : 'No reference range'}</span>
              {result.flagText && <span className={out ? 'fhir-result-flag badge badge-bad' : 'fhir-result-flag badge badge-ok'}>{result.flagText}</span>}
            </li>
          )
        })}
      </ul>
      <dl className="facts">
        <Fact label="Conclusion">{view.conclusion}</Fact>
        <Fact label="Issued">{when(view.issued)}</Fact>
        <Fact label="By">{view.performer ? <Address value={view.performer} /> : null}</Fact>
      </dl>
    </div>
  )
}

function InvoiceCard({ view }: { view: InvoiceView }) {
  return (
    <div className="fhir-card" data-fhir-kind="invoice">
      <p className="fhir-card-kind">Invoice</p>
      {view.stay && <p className="fhir-invoice-stay">{stayText(view.stay)}</p>}
      <table className="fhir-invoice">
        <caption className="visually-hidden">Invoice lines</caption>
        <thead>
          <tr>
            <th scope="col">Item</th>
            <th scope="col">Qty</th>
            <th scope="col">Unit price</th>
            <th scope="col">Amount</th>
          </tr>
        </thead>
        <tbody>
          {view.lines.map((line, index) => (
            <tr key={index}>
              <td>{line.description}</td>
              <td>{line.quantity ?? '—'}</td>
              <td>{money(line.unitPrice, '')}</td>
              <td>{money(line.amount, '')}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={3}>
              Total
            </th>
            <td className="fhir-invoice-total">{money(view.total, view.currency)}</td>
          </tr>
        </tfoot>
      </table>
      <dl className="facts">
        <Fact label="Currency">{view.currency}</Fact>
        <Fact label="Date">{when(view.date)}</Fact>
        <Fact label="Issued by">{view.issuer ? <Address value={view.issuer} /> : null}</Fact>
        <Fact label="Notes">{view.notes.length ? view.notes.join(' ') : null}</Fact>
      </dl>
    </div>
  )
}

/** The card for parsed FHIR, or the reason there is none. */
export function FhirView({ view }: { view: FhirView }) {
  switch (view.kind) {
    case 'prescription':
      return <PrescriptionCard view={view} />
    case 'report':
      return <ReportCard view={view} />
    case 'invoice':
      return <InvoiceCard view={view} />
    default:
      return <p className="muted">{view.reason} Its content is under “Details”.</p>
  }
}

/** The card for FHIR JSON text, with the raw FHIR behind "Details" (open at once when there is no card). */
export function FhirCard({ text }: { text: string }) {
  const view = parseFhir(text)
  return (
    <div className="fhir-record">
      <FhirView view={view} />
      <details className="fhir-details" open={view.kind === 'raw' ? true : undefined}>
        <summary>Details (FHIR JSON)</summary>
        <pre className="fhir-json" tabIndex={0}>{prettyJson(text)}</pre>
      </details>
    </div>
  )
}

/** An opened record's blob as its card (read as text once it is opened). */
export function FhirBlobCard({ blob }: { blob: Blob }) {
  const [text, setText] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    setText(null)
    blob.text().then(
      (value) => live && setText(value),
      () => live && setText(''),
    )
    return () => {
      live = false
    }
  }, [blob])
  if (text === null) return <p className="muted">Reading the record…</p>
  return <FhirCard text={text} />
}
