/**
 * Doctors: a prescription, a result report or an invoice filled in as a form (never typed as JSON),
 * with validation messages per field, then a preview card ("what the patient will see") built from
 * the exact bytes that will be signed. The resource comes from the pure builders in fhir/build.ts;
 * the patient and the doctor are the chosen patient's and the signed-in doctor's addresses, never
 * typed. `onReady` hands the built file (application/fhir+json) to "Add a record", which fingerprints,
 * signs and uploads it exactly like a picked file; `onReady(null)` when the doctor goes back to edit.
 */
import { useEffect, useId, useState, type ReactNode } from 'react'
import type { RecordType } from '../../api/types'
import { FhirCard } from '../../components/fhir/FhirCard'
import {
  buildDiagnosticReport,
  buildInvoice,
  buildMedicationRequest,
  CURRENCIES,
  DOSE_UNITS,
  emptyInvoice,
  emptyLine,
  emptyStay,
  hasStay,
  stayLine,
  stayNights,
  type StayForm,
  emptyPrescription,
  emptyReport,
  emptyResult,
  fhirFile,
  interpret,
  invoiceTotal,
  lineAmount,
  parseNumber,
  PERIOD_UNITS,
  ROUTES,
  suggestedName,
  validateInvoice,
  validatePrescription,
  validateReport,
  type Errors,
  type InvoiceForm,
  type Json,
  type PrescriptionForm,
  type ReportForm,
} from '../../fhir/build'
import { money } from '../../fhir/render'
import { withReplaces } from '../../fhir/amend'


export const STRUCTURED_LABELS: Record<RecordType, string> = {
  prescription: 'Prescription (form)',
  report: 'Result report (form)',
  bill: 'Invoice (form)',
}

/** A labelled text input with its error message tied to it (aria-invalid, aria-describedby). */
function Field({
  label,
  value,
  onChange,
  error,
  show,
  hint,
  type = 'text',
  inputMode,
  placeholder,
}: {
  label: string
  value: string
  onChange: (value: string) => void
  error?: string
  show: boolean
  hint?: string
  type?: 'text' | 'date'
  inputMode?: 'decimal' | 'numeric'
  placeholder?: string
}) {
  const id = useId()
  const visible = show && !!error
  return (
    <div className="field">
      <label className="field-label" htmlFor={id}>
        {label}
      </label>
      <input
        id={id}
        type={type}
        value={value}
        inputMode={inputMode}
        placeholder={placeholder}
        maxLength={200}
        aria-invalid={visible || undefined}
        aria-describedby={[hint ? `${id}-hint` : '', visible ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {hint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
      {visible && (
        <span id={`${id}-error`} className="field-error">
          {error}
        </span>
      )}
    </div>
  )
}

function Select({ label, value, onChange, children }: { label: string; value: string; onChange: (value: string) => void; children: ReactNode }) {
  return (
    <label className="field">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        {children}
      </select>
    </label>
  )
}

function PrescriptionFields({ form, set, errors, show }: { form: PrescriptionForm; set: (patch: Partial<PrescriptionForm>) => void; errors: Errors; show: boolean }) {
  return (
    <>
      <Field label="Medication" value={form.medication} onChange={(medication) => set({ medication })} error={errors.medication} show={show} placeholder="e.g. Amoxicillin 500 mg capsule" />
      <div className="structured-grid">
        <Field label="Code (RxNorm, optional)" value={form.code} onChange={(code) => set({ code })} show={show} inputMode="numeric" />
        <Field label="Dose" value={form.doseValue} onChange={(doseValue) => set({ doseValue })} error={errors.doseValue} show={show} inputMode="decimal" placeholder="500" />
        <Select label="Dose unit" value={form.doseUnit} onChange={(doseUnit) => set({ doseUnit })}>
          {DOSE_UNITS.map((u) => (
            <option key={u.unit}>{u.unit}</option>
          ))}
        </Select>
        <Select label="Route" value={form.route} onChange={(route) => set({ route })}>
          {ROUTES.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </Select>
        <Field label="Times" value={form.frequency} onChange={(frequency) => set({ frequency })} error={errors.frequency} show={show} inputMode="numeric" placeholder="3" />
        <Field label="Every" value={form.period} onChange={(period) => set({ period })} error={errors.period} show={show} inputMode="decimal" />
        <Select label="Period" value={form.periodUnit} onChange={(periodUnit) => set({ periodUnit: periodUnit as PrescriptionForm['periodUnit'] })}>
          {PERIOD_UNITS.map((u) => (
            <option key={u.value} value={u.value}>
              {u.many}
            </option>
          ))}
        </Select>
        <Field label="For how many days (optional)" value={form.durationDays} onChange={(durationDays) => set({ durationDays })} error={errors.durationDays} show={show} inputMode="numeric" />
        <Field label="Valid until (optional)" type="date" value={form.validUntil} onChange={(validUntil) => set({ validUntil })} error={errors.validUntil} show={show} />
        <Field label="Quantity to dispense" value={form.quantity} onChange={(quantity) => set({ quantity })} error={errors.quantity} show={show} inputMode="decimal" placeholder="21" />
        <Select label="Quantity unit" value={form.quantityUnit} onChange={(quantityUnit) => set({ quantityUnit })}>
          {DOSE_UNITS.map((u) => (
            <option key={u.unit}>{u.unit}</option>
          ))}
        </Select>
        <Field label="Refills" value={form.refills} onChange={(refills) => set({ refills })} error={errors.refills} show={show} inputMode="numeric" />
      </div>
      <Field label="Notes (optional)" value={form.notes} onChange={(notes) => set({ notes })} show={show} placeholder="e.g. Take with food" />
    </>
  )
}

function ReportFields({ form, set, errors, show }: { form: ReportForm; set: (patch: Partial<ReportForm>) => void; errors: Errors; show: boolean }) {
  const setRow = (index: number, patch: Partial<ReportForm['results'][number]>) =>
    set({ results: form.results.map((row, i) => (i === index ? { ...row, ...patch } : row)) })
  return (
    <>
      <div className="structured-grid">
        <Field label="Report title" value={form.title} onChange={(title) => set({ title })} error={errors.title} show={show} placeholder="e.g. Complete blood count" />
        <Field label="Report code (LOINC, optional)" value={form.code} onChange={(code) => set({ code })} show={show} />
      </div>
      <div className="structured-lines">
        {form.results.map((row, index) => {
          const at = `results.${index}.`
          const value = parseNumber(row.value)
          const flag = value === null ? undefined : interpret(value, parseNumber(row.low), parseNumber(row.high))
          return (
            <fieldset key={index} className="structured-line">
              <legend>Result {index + 1}</legend>
              <div className="structured-grid">
                <Field label="Name" value={row.name} onChange={(name) => setRow(index, { name })} error={errors[`${at}name`]} show={show} placeholder="e.g. Haemoglobin" />
                <Field label="Code (LOINC, optional)" value={row.code} onChange={(code) => setRow(index, { code })} show={show} />
                <Field label="Value" value={row.value} onChange={(v) => setRow(index, { value: v })} error={errors[`${at}value`]} show={show} inputMode="decimal" />
                <Field label="Unit" value={row.unit} onChange={(unit) => setRow(index, { unit })} error={errors[`${at}unit`]} show={show} placeholder="e.g. g/dL" />
                <Field label="Range low" value={row.low} onChange={(low) => setRow(index, { low })} error={errors[`${at}low`]} show={show} inputMode="decimal" />
                <Field label="Range high" value={row.high} onChange={(high) => setRow(index, { high })} error={errors[`${at}high`]} show={show} inputMode="decimal" />
              </div>
              <p className="hint" aria-live="polite">
                {flag === 'H' ? 'Flag: High (above range), set automatically.' : flag === 'L' ? 'Flag: Low (below range), set automatically.' : flag === 'N' ? 'Flag: Normal (within range).' : 'The flag is set from the range.'}
              </p>
              {form.results.length > 1 && (
                <button type="button" className="btn btn-secondary" onClick={() => set({ results: form.results.filter((_, i) => i !== index) })}>
                  Remove result {index + 1}
                </button>
              )}
            </fieldset>
          )
        })}
      </div>
      <p>
        <button type="button" className="btn btn-secondary" onClick={() => set({ results: [...form.results, emptyResult()] })}>
          Add a result
        </button>
      </p>
      <Field label="Conclusion (optional)" value={form.conclusion} onChange={(conclusion) => set({ conclusion })} show={show} />
    </>
  )
}

function InvoiceFields({ form, set, errors, show }: { form: InvoiceForm; set: (patch: Partial<InvoiceForm>) => void; errors: Errors; show: boolean }) {
  const setLine = (index: number, patch: Partial<InvoiceForm['lines'][number]>) =>
    set({ lines: form.lines.map((line, i) => (i === index ? { ...line, ...patch } : line)) })
  return (
    <>
      <Select label="Currency" value={form.currency} onChange={(currency) => set({ currency })}>
        {CURRENCIES.map((c) => (
          <option key={c}>{c}</option>
        ))}
      </Select>
      <div className="structured-lines">
        {form.lines.map((line, index) => {
          const at = `lines.${index}.`
          return (
            <fieldset key={index} className="structured-line">
              <legend>Line {index + 1}</legend>
              <div className="structured-grid">
                <Field label="Description" value={line.description} onChange={(description) => setLine(index, { description })} error={errors[`${at}description`]} show={show} placeholder="e.g. Consultation" />
                <Field label="Quantity" value={line.quantity} onChange={(quantity) => setLine(index, { quantity })} error={errors[`${at}quantity`]} show={show} inputMode="decimal" />
                <Field label={`Unit price (${form.currency})`} value={line.unitPrice} onChange={(unitPrice) => setLine(index, { unitPrice })} error={errors[`${at}unitPrice`]} show={show} inputMode="decimal" />
              </div>
              <p className="hint">Amount: {money(lineAmount(line), form.currency)}</p>
              {(form.lines.length > 1 || hasStay(form.stay)) && (
                <button type="button" className="btn btn-secondary" onClick={() => set({ lines: form.lines.filter((_, i) => i !== index) })}>
                  Remove line {index + 1}
                </button>
              )}
            </fieldset>
          )
        })}
      </div>
      <p>
        <button type="button" className="btn btn-secondary" onClick={() => set({ lines: [...form.lines, emptyLine()] })}>
          Add a line
        </button>
      </p>
      <StayFields form={form} set={set} errors={errors} show={show} />
      <p aria-live="polite">
        <strong>Total: {money(invoiceTotal(form), form.currency)}</strong> (computed from the lines)
      </p>
      {show && errors.lines && <p className="field-error">{errors.lines}</p>}
      <Field label="Notes (optional)" value={form.notes} onChange={(notes) => set({ notes })} show={show} />
    </>
  )
}

/**
 * An optional hospital stay: admission, discharge and room; the room is billed as nights × the
 * nightly rate (a line computed from the dates, shown here, not typed).
 */
function StayFields({ form, set, errors, show }: { form: InvoiceForm; set: (patch: Partial<InvoiceForm>) => void; errors: Errors; show: boolean }) {
  const stay = form.stay ?? emptyStay()
  const [open, setOpen] = useState(hasStay(form.stay))
  const setStay = (patch: Partial<StayForm>) => set({ stay: { ...stay, ...patch } })
  if (!open) {
    return (
      <p>
        <button type="button" className="btn btn-secondary" onClick={() => setOpen(true)}>
          Add a hospital stay
        </button>
      </p>
    )
  }
  const room = stayLine(stay)
  const nights = stayNights(stay.admission, stay.discharge)
  return (
    <fieldset className="structured-line">
      <legend>Hospital stay</legend>
      <div className="structured-grid">
        <Field label="Admission" type="date" value={stay.admission} onChange={(admission) => setStay({ admission })} error={errors['stay.admission']} show={show} />
        <Field label="Discharge" type="date" value={stay.discharge} onChange={(discharge) => setStay({ discharge })} error={errors['stay.discharge']} show={show} />
        <Field label="Room" value={stay.room} onChange={(room) => setStay({ room })} error={errors['stay.room']} show={show} placeholder="e.g. 12B" />
        <Field label={`Nightly rate (${form.currency})`} value={stay.nightlyRate} onChange={(nightlyRate) => setStay({ nightlyRate })} error={errors['stay.nightlyRate']} show={show} inputMode="decimal" />
      </div>
      <p className="hint" aria-live="polite">
        {room
          ? `${room.description}: ${nights} × ${money(parseNumber(stay.nightlyRate), form.currency)} = ${money(lineAmount(room), form.currency)}`
          : 'The room line (nights × nightly rate) is computed from the dates.'}
      </p>
      <button
        type="button"
        className="btn btn-secondary"
        onClick={() => {
          set({ stay: emptyStay() })
          setOpen(false)
        }}
      >
        Remove the stay
      </button>
    </fieldset>
  )
}

const FILE_NAMES: Record<RecordType, string> = { prescription: 'prescription.fhir.json', report: 'report.fhir.json', bill: 'invoice.fhir.json' }

/**
 * The form of one `kind`; `patient` (chosen above) and `doctor` (signed in) go into the resource.
 * Returns to editing (onReady(null)) whenever the patient changes, so a preview never names a
 * patient other than the one chosen.
 */
export function StructuredRecordForm({
  kind,
  patient,
  doctor,
  onReady,
  initial,
  replacesAnchor,
}: {
  kind: RecordType
  patient: string
  doctor: string
  onReady: (built: { file: File; name: string } | null) => void
  /** Amending: the form as the current version filled it in (fhir/amend.ts `resourceToForm`). */
  initial?: PrescriptionForm | ReportForm | InvoiceForm
  /** Amending: the anchor of the version replaced, named by the resource's replaces extension. */
  replacesAnchor?: string
}) {
  const [prescription, setPrescription] = useState(() => (kind === 'prescription' && initial ? (initial as PrescriptionForm) : emptyPrescription()))
  const [report, setReport] = useState(() => (kind === 'report' && initial ? (initial as ReportForm) : emptyReport()))
  const [invoice, setInvoice] = useState(() => (kind === 'bill' && initial ? (initial as InvoiceForm) : emptyInvoice()))
  const [tried, setTried] = useState(false)
  const [built, setBuilt] = useState<{ text: string } | null>(null)

  const errors = kind === 'prescription' ? validatePrescription(prescription) : kind === 'report' ? validateReport(report) : validateInvoice(invoice)
  const valid = Object.keys(errors).length === 0

  const edit = () => {
    setBuilt(null)
    onReady(null)
  }
  useEffect(() => {
    if (built) edit()
    // Only a change of patient (or kind) sends the doctor back to the form.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [patient, kind])

  const preview = () => {
    setTried(true)
    if (!valid || !patient) return
    const people = { patient, doctor }
    const built: Json =
      kind === 'prescription' ? buildMedicationRequest(prescription, people) : kind === 'report' ? buildDiagnosticReport(report, people) : buildInvoice(invoice, people)
    const resource = replacesAnchor ? withReplaces(built, replacesAnchor) : built
    const file = fhirFile(resource, FILE_NAMES[kind])
    setBuilt({ text: JSON.stringify(resource, null, 2) })
    onReady({ file, name: suggestedName(resource) })
  }

  if (built) {
    return (
      <div className="stack" role="group" aria-label="Preview">
        <h3>What the patient will see</h3>
        <FhirCard text={built.text} />
        <p>
          <button type="button" className="btn btn-secondary" onClick={edit}>
            Edit
          </button>
        </p>
      </div>
    )
  }
  const count = Object.keys(errors).length
  return (
    <div className="stack structured-form">
      {kind === 'prescription' && <PrescriptionFields form={prescription} set={(p) => setPrescription((f) => ({ ...f, ...p }))} errors={errors} show={tried} />}
      {kind === 'report' && <ReportFields form={report} set={(p) => setReport((f) => ({ ...f, ...p }))} errors={errors} show={tried} />}
      {kind === 'bill' && <InvoiceFields form={invoice} set={(p) => setInvoice((f) => ({ ...f, ...p }))} errors={errors} show={tried} />}
      <p className="hint">The patient and you (as the author) are filled in from the chosen patient and your wallet address.</p>
      {tried && count > 0 && (
        <p className="field-error" role="alert">
          {count === 1 ? 'One field needs' : `${count} fields need`} attention before the preview.
        </p>
      )}
      <p>
        <button type="button" className="btn btn-primary" onClick={preview} disabled={!patient}>
          Preview
        </button>
        {!patient && <span className="hint"> Choose a patient first.</span>}
      </p>
    </div>
  )
}
