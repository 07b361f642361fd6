/**
 * Structured records as FHIR R4 resources, built from what a doctor fills in (the forms in
 * features/doctor/StructuredRecordForm.tsx): a prescription -> `MedicationRequest`, a result report ->
 * `DiagnosticReport` with its results as contained `Observation`s, an invoice -> `Invoice`.
 *
 * Pure functions, no React, so every rule is unit-tested. Form values arrive as the strings the inputs
 * hold; `validate*` says what to fix per field (empty when the form is complete), `build*` turns a
 * valid form into the resource. The patient and the author are never typed: the caller passes the
 * patient's and the signed-in doctor's addresses, and they are written as logical references by
 * `urn:ethereum:address` identifier, the only form the server accepts (backend
 * healthledger/fhir/validation.py). The server validates and never rewrites: these bytes are what the
 * doctor signs (SHA-256(salt ‖ bytes)), so the builder, not the server, decides every field.
 *
 * Hand-written rather than a FHIR client library: the three shapes are small and fixed, and the
 * JavaScript FHIR libraries bring whole resource models (hundreds of kB) for no check the server does
 * not do anyway with `fhir.resources`.
 */

export const ADDRESS_SYSTEM = 'urn:ethereum:address'
export const FHIR_CONTENT_TYPE = 'application/fhir+json'
export const UCUM = 'http://unitsofmeasure.org'
export const INTERPRETATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation'
const SNOMED = 'http://snomed.info/sct'

export type Json = Record<string, unknown>
/** Field -> what to fix; empty when the form is valid. */
export type Errors = Record<string, string>

/** A logical reference to an account, as the server requires for subject and author. */
export function person(address: string): Json {
  return { identifier: { system: ADDRESS_SYSTEM, value: address } }
}

/** Units a dose or quantity is given in; those UCUM knows carry their UCUM code. */
export const DOSE_UNITS: { unit: string; ucum?: string }[] = [
  { unit: 'mg', ucum: 'mg' },
  { unit: 'g', ucum: 'g' },
  { unit: 'mcg', ucum: 'ug' },
  { unit: 'mL', ucum: 'mL' },
  { unit: 'tablet' },
  { unit: 'capsule' },
  { unit: 'drop' },
  { unit: 'puff' },
  { unit: 'unit', ucum: '[iU]' },
]

/** Routes of administration (SNOMED CT codes), shown by their plain name. */
export const ROUTES: { value: string; label: string; snomed: string }[] = [
  { value: 'oral', label: 'By mouth', snomed: '26643006' },
  { value: 'sublingual', label: 'Under the tongue', snomed: '37839007' },
  { value: 'topical', label: 'On the skin', snomed: '6064005' },
  { value: 'inhaled', label: 'Inhaled', snomed: '447694001' },
  { value: 'intravenous', label: 'Into a vein (IV)', snomed: '47625008' },
  { value: 'intramuscular', label: 'Into a muscle (IM)', snomed: '78421000' },
  { value: 'subcutaneous', label: 'Under the skin (SC)', snomed: '34206005' },
]

export const PERIOD_UNITS: { value: 'h' | 'd' | 'wk'; one: string; many: string }[] = [
  { value: 'h', one: 'hour', many: 'hours' },
  { value: 'd', one: 'day', many: 'days' },
  { value: 'wk', one: 'week', many: 'weeks' },
]

export const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF'] as const

// --- numbers ------------------------------------------------------------------------------------

/** A form's number: finite, or null when empty or not a number ("1,5" counts as 1.5). */
export function parseNumber(text: string | undefined | null): number | null {
  const trimmed = (text ?? '').trim().replace(',', '.')
  if (!trimmed || !/^[-+]?(\d+\.?\d*|\.\d+)$/.test(trimmed)) return null
  const value = Number(trimmed)
  return Number.isFinite(value) ? value : null
}

function requirePositive(errors: Errors, field: string, text: string, what: string, { required = true, integer = false } = {}) {
  if (!text.trim()) {
    if (required) errors[field] = `Enter ${what}.`
    return
  }
  const value = parseNumber(text)
  if (value === null) errors[field] = `${capitalise(what)} must be a number.`
  else if (!(value > 0)) errors[field] = `${capitalise(what)} must be more than 0.`
  else if (integer && !Number.isInteger(value)) errors[field] = `${capitalise(what)} must be a whole number.`
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

function quantity(value: number, unit: string): Json {
  const ucum = DOSE_UNITS.find((u) => u.unit === unit)?.ucum
  return ucum ? { value, unit, system: UCUM, code: ucum } : { value, unit }
}

/** `yyyy-mm-dd` of a moment, in UTC (FHIR `date`). */
export function isoDate(now: Date): string {
  return now.toISOString().slice(0, 10)
}

// --- prescription -------------------------------------------------------------------------------

export interface PrescriptionForm {
  medication: string
  /** Optional code of the medication (RxNorm, or another system named in `codeSystem`). */
  code: string
  codeSystem: string
  doseValue: string
  doseUnit: string
  route: string
  /** Times per `period` `periodUnit`. */
  frequency: string
  period: string
  periodUnit: 'h' | 'd' | 'wk'
  /** For how many days (optional). */
  durationDays: string
  /** Last day the prescription may be dispensed (yyyy-mm-dd, optional). */
  validUntil: string
  quantity: string
  quantityUnit: string
  refills: string
  notes: string
}

export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm'

export function emptyPrescription(): PrescriptionForm {
  return {
    medication: '',
    code: '',
    codeSystem: RXNORM,
    doseValue: '',
    doseUnit: 'mg',
    route: 'oral',
    frequency: '',
    period: '1',
    periodUnit: 'd',
    durationDays: '',
    validUntil: '',
    quantity: '',
    quantityUnit: 'tablet',
    refills: '0',
    notes: '',
  }
}

export function validatePrescription(form: PrescriptionForm, now: Date = new Date()): Errors {
  const errors: Errors = {}
  if (!form.medication.trim()) errors.medication = 'Enter the medication (name and strength).'
  requirePositive(errors, 'doseValue', form.doseValue, 'the dose')
  requirePositive(errors, 'frequency', form.frequency, 'how many times', { integer: true })
  requirePositive(errors, 'period', form.period, 'the period')
  requirePositive(errors, 'durationDays', form.durationDays, 'the number of days', { required: false, integer: true })
  requirePositive(errors, 'quantity', form.quantity, 'the quantity to dispense')
  if (!form.refills.trim()) errors.refills = 'Enter the number of refills (0 for none).'
  else {
    const refills = parseNumber(form.refills)
    if (refills === null || !Number.isInteger(refills) || refills < 0) errors.refills = 'Refills must be a whole number, 0 or more.'
  }
  if (form.validUntil) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(form.validUntil) || Number.isNaN(Date.parse(form.validUntil))) errors.validUntil = 'Enter a date.'
    else if (form.validUntil < isoDate(now)) errors.validUntil = 'The last day cannot be in the past.'
  }
  if (!ROUTES.some((r) => r.value === form.route)) errors.route = 'Choose a route.'
  return errors
}

/** "3 times a day", "once every 8 hours", "twice every 2 weeks". */
export function frequencyText(frequency: number, period: number, periodUnit: string): string {
  const unit = PERIOD_UNITS.find((u) => u.value === periodUnit)
  const times = frequency === 1 ? 'once' : frequency === 2 ? 'twice' : `${frequency} times`
  if (!unit) return `${times} every ${period} ${periodUnit}`
  if (period === 1) return `${times} a ${unit.one}`
  return `${times} every ${period} ${unit.many}`
}

/** The dosage in one line, as the patient reads it: "500 mg by mouth, 3 times a day, for 7 days". */
export function dosageText(form: PrescriptionForm): string {
  const route = ROUTES.find((r) => r.value === form.route)
  const parts = [
    `${parseNumber(form.doseValue)} ${form.doseUnit} ${route ? route.label.toLowerCase() : ''}`.trim(),
    frequencyText(parseNumber(form.frequency) ?? 0, parseNumber(form.period) ?? 1, form.periodUnit),
  ]
  const days = parseNumber(form.durationDays)
  if (days) parts.push(`for ${days} day${days === 1 ? '' : 's'}`)
  return parts.join(', ')
}

export interface People {
  patient: string
  doctor: string
  now?: Date
}

/** A valid prescription form as a `MedicationRequest` (throws on an invalid one: validate first). */
export function buildMedicationRequest(form: PrescriptionForm, { patient, doctor, now = new Date() }: People): Json {
  assertValid(validatePrescription(form, now))
  const route = ROUTES.find((r) => r.value === form.route)!
  const repeat: Json = { frequency: parseNumber(form.frequency), period: parseNumber(form.period), periodUnit: form.periodUnit }
  const days = parseNumber(form.durationDays)
  if (days) repeat.boundsDuration = { value: days, unit: 'd', system: UCUM, code: 'd' }
  const medication: Json = { text: form.medication.trim() }
  if (form.code.trim()) medication.coding = [{ system: form.codeSystem.trim() || RXNORM, code: form.code.trim() }]
  const dispenseRequest: Json = {
    quantity: quantity(parseNumber(form.quantity)!, form.quantityUnit),
    numberOfRepeatsAllowed: parseNumber(form.refills),
  }
  if (form.validUntil) dispenseRequest.validityPeriod = { start: isoDate(now), end: form.validUntil }
  const resource: Json = {
    resourceType: 'MedicationRequest',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: medication,
    subject: person(patient),
    requester: person(doctor),
    authoredOn: now.toISOString(),
    dosageInstruction: [
      {
        text: dosageText(form),
        timing: { repeat },
        route: { text: route.label, coding: [{ system: SNOMED, code: route.snomed }] },
        doseAndRate: [{ doseQuantity: quantity(parseNumber(form.doseValue)!, form.doseUnit) }],
      },
    ],
    dispenseRequest,
  }
  if (form.notes.trim()) resource.note = [{ text: form.notes.trim() }]
  return resource
}

// --- result report ------------------------------------------------------------------------------

export interface ResultRow {
  name: string
  /** Optional LOINC code. */
  code: string
  value: string
  unit: string
  low: string
  high: string
}

export interface ReportForm {
  title: string
  /** Optional LOINC code of the whole panel. */
  code: string
  results: ResultRow[]
  conclusion: string
}

export function emptyResult(): ResultRow {
  return { name: '', code: '', value: '', unit: '', low: '', high: '' }
}

export function emptyReport(): ReportForm {
  return { title: '', code: '', results: [emptyResult()], conclusion: '' }
}

export type Interpretation = 'H' | 'L' | 'N'

/** H above the range, L below it, N within (bounds included); undefined without any bound. */
export function interpret(value: number, low: number | null, high: number | null): Interpretation | undefined {
  if (low === null && high === null) return undefined
  if (high !== null && value > high) return 'H'
  if (low !== null && value < low) return 'L'
  return 'N'
}

export const INTERPRETATION_TEXT: Record<Interpretation, string> = { H: 'High', L: 'Low', N: 'Normal' }

export function validateReport(form: ReportForm): Errors {
  const errors: Errors = {}
  if (!form.title.trim()) errors.title = 'Enter the report title (e.g. Complete blood count).'
  if (form.results.length === 0) errors.results = 'Add at least one result.'
  form.results.forEach((row, index) => {
    const at = `results.${index}.`
    if (!row.name.trim()) errors[`${at}name`] = 'Enter what was measured.'
    if (!row.value.trim()) errors[`${at}value`] = 'Enter the value.'
    else if (parseNumber(row.value) === null) errors[`${at}value`] = 'The value must be a number.'
    if (!row.unit.trim()) errors[`${at}unit`] = 'Enter the unit (e.g. g/dL).'
    for (const bound of ['low', 'high'] as const) {
      if (row[bound].trim() && parseNumber(row[bound]) === null) errors[`${at}${bound}`] = `The ${bound} end of the range must be a number.`
    }
    const low = parseNumber(row.low)
    const high = parseNumber(row.high)
    if (low !== null && high !== null && !(low < high)) errors[`${at}high`] = 'The high end must be above the low end.'
  })
  return errors
}

/** A valid report form as a `DiagnosticReport` whose results are contained `Observation`s `#r1`, `#r2`, … */
export function buildDiagnosticReport(form: ReportForm, { patient, doctor, now = new Date() }: People): Json {
  assertValid(validateReport(form))
  const observations = form.results.map((row, index) => {
    const value = parseNumber(row.value)!
    const low = parseNumber(row.low)
    const high = parseNumber(row.high)
    const unit = row.unit.trim()
    const code: Json = { text: row.name.trim() }
    if (row.code.trim()) code.coding = [{ system: 'http://loinc.org', code: row.code.trim() }]
    const observation: Json = {
      resourceType: 'Observation',
      id: `r${index + 1}`,
      status: 'final',
      code,
      subject: person(patient),
      performer: [person(doctor)],
      effectiveDateTime: now.toISOString(),
      valueQuantity: { value, unit },
    }
    if (low !== null || high !== null) {
      const range: Json = {}
      if (low !== null) range.low = { value: low, unit }
      if (high !== null) range.high = { value: high, unit }
      observation.referenceRange = [range]
    }
    const flag = interpret(value, low, high)
    if (flag) {
      observation.interpretation = [{ coding: [{ system: INTERPRETATION_SYSTEM, code: flag, display: INTERPRETATION_TEXT[flag] }], text: INTERPRETATION_TEXT[flag] }]
    }
    return observation
  })
  const code: Json = { text: form.title.trim() }
  if (form.code.trim()) code.coding = [{ system: 'http://loinc.org', code: form.code.trim() }]
  const report: Json = {
    resourceType: 'DiagnosticReport',
    status: 'final',
    code,
    subject: person(patient),
    performer: [person(doctor)],
    issued: now.toISOString(),
    contained: observations,
    result: observations.map((o) => ({ reference: `#${o.id}`, display: (o.code as Json).text })),
  }
  if (form.conclusion.trim()) report.conclusion = form.conclusion.trim()
  return report
}

// --- invoice ------------------------------------------------------------------------------------

export interface InvoiceLine {
  description: string
  quantity: string
  unitPrice: string
}

/**
 * An optional hospital stay on the invoice. All four fields empty: no stay. Otherwise the room is
 * billed as one line of `nights × nightlyRate`, computed here, never typed.
 */
export interface StayForm {
  /** yyyy-mm-dd */
  admission: string
  /** yyyy-mm-dd, after the admission */
  discharge: string
  room: string
  /** Price of one night in the room, in the invoice's currency. */
  nightlyRate: string
}

export interface InvoiceForm {
  currency: string
  lines: InvoiceLine[]
  notes: string
  /** Optional hospital stay (absent or all empty: none). */
  stay?: StayForm
}

export function emptyLine(): InvoiceLine {
  return { description: '', quantity: '1', unitPrice: '' }
}

export function emptyStay(): StayForm {
  return { admission: '', discharge: '', room: '', nightlyRate: '' }
}

export function emptyInvoice(): InvoiceForm {
  return { currency: 'EUR', lines: [emptyLine()], notes: '', stay: emptyStay() }
}

/** Whether the doctor started describing a stay (any stay field filled in). */
export function hasStay(stay: StayForm | undefined): stay is StayForm {
  return !!stay && [stay.admission, stay.discharge, stay.room, stay.nightlyRate].some((v) => v.trim() !== '')
}

const DAY_MS = 86_400_000

/** Nights between two yyyy-mm-dd dates (discharge − admission, in whole days); null unless both are dates. */
export function stayNights(admission: string, discharge: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(admission) || !/^\d{4}-\d{2}-\d{2}$/.test(discharge)) return null
  const start = Date.parse(`${admission}T00:00:00Z`)
  const end = Date.parse(`${discharge}T00:00:00Z`)
  if (Number.isNaN(start) || Number.isNaN(end)) return null
  return Math.round((end - start) / DAY_MS)
}

/**
 * The room line of a stay (nights × nightly rate, as an invoice line the rest of the form sums), or
 * null while the dates or the rate cannot be read.
 */
export function stayLine(stay: StayForm): InvoiceLine | null {
  const nights = stayNights(stay.admission, stay.discharge)
  if (nights === null || nights <= 0 || parseNumber(stay.nightlyRate) === null) return null
  return { description: `Room ${stay.room.trim()}, ${nights} night${nights === 1 ? '' : 's'}`, quantity: String(nights), unitPrice: stay.nightlyRate.trim() }
}

function validateStay(stay: StayForm, errors: Errors) {
  const date = /^\d{4}-\d{2}-\d{2}$/
  if (!date.test(stay.admission) || Number.isNaN(Date.parse(stay.admission))) errors['stay.admission'] = 'Enter the admission date.'
  if (!date.test(stay.discharge) || Number.isNaN(Date.parse(stay.discharge))) errors['stay.discharge'] = 'Enter the discharge date.'
  else if (!errors['stay.admission'] && !((stayNights(stay.admission, stay.discharge) ?? 0) > 0)) errors['stay.discharge'] = 'The discharge must be at least one night after the admission.'
  if (!stay.room.trim()) errors['stay.room'] = 'Enter the room.'
  if (!stay.nightlyRate.trim()) errors['stay.nightlyRate'] = 'Enter the price of one night.'
  else {
    const rate = parseNumber(stay.nightlyRate)
    if (rate === null) errors['stay.nightlyRate'] = 'The nightly rate must be a number.'
    else if (rate < 0) errors['stay.nightlyRate'] = 'The nightly rate cannot be negative.'
    else if (!/^\d*([.,]\d{0,2})?$/.test(stay.nightlyRate.trim())) errors['stay.nightlyRate'] = 'Use at most two decimals.'
  }
}

/** Every line the invoice bills: the typed ones, then the stay's room line when there is one. */
export function invoiceLines(form: InvoiceForm): InvoiceLine[] {
  const room = hasStay(form.stay) ? stayLine(form.stay) : null
  return room ? [...form.lines, room] : form.lines
}

/** Money in cents, so that 3 × 0.10 is 0.30 and sums do not drift. */
function cents(value: number): number {
  return Math.round(value * 100)
}

/** A line's amount (quantity × unit price), rounded to the cent; null while either is not a number. */
export function lineAmount(line: InvoiceLine): number | null {
  const qty = parseNumber(line.quantity)
  const price = parseNumber(line.unitPrice)
  if (qty === null || price === null) return null
  return Math.round(qty * cents(price)) / 100
}

/** The invoice's total: the sum of the lines that have an amount (the stay's room line included). */
export function invoiceTotal(form: InvoiceForm): number {
  return invoiceLines(form).reduce((sum, line) => sum + cents(lineAmount(line) ?? 0), 0) / 100
}

export function validateInvoice(form: InvoiceForm): Errors {
  const errors: Errors = {}
  if (!/^[A-Z]{3}$/.test(form.currency)) errors.currency = 'Choose a currency.'
  // A stay alone is a complete invoice (its room line); without one, at least one typed line.
  const stay = hasStay(form.stay) ? form.stay : null
  if (form.lines.length === 0 && !stay) errors.lines = 'Add at least one line.'
  if (stay) validateStay(stay, errors)
  form.lines.forEach((line, index) => {
    const at = `lines.${index}.`
    if (!line.description.trim()) errors[`${at}description`] = 'Enter what is charged.'
    requirePositive(errors, `${at}quantity`, line.quantity, 'the quantity')
    if (!line.unitPrice.trim()) errors[`${at}unitPrice`] = 'Enter the unit price.'
    else {
      const price = parseNumber(line.unitPrice)
      if (price === null) errors[`${at}unitPrice`] = 'The unit price must be a number.'
      else if (price < 0) errors[`${at}unitPrice`] = 'The unit price cannot be negative.'
      else if (!/^\d*([.,]\d{0,2})?$/.test(line.unitPrice.trim())) errors[`${at}unitPrice`] = 'Use at most two decimals.'
    }
  })
  if (invoiceLines(form).length > 0 && Object.keys(errors).length === 0 && !(invoiceTotal(form) > 0)) errors.lines = 'The total must be more than 0.'
  return errors
}

export const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode'
/** Ids of the stay's contained resources (the room line's `chargeItemReference` is `#` + STAY_CHARGE_ID). */
export const STAY_CHARGE_ID = 'stay-room'
export const STAY_ENCOUNTER_ID = 'stay'

/**
 * A stay as FHIR R4 has it (an R4 Invoice has no period): a contained `ChargeItem` (the room, for
 * `nights`, over admission..discharge, in the context of the stay) and a contained inpatient
 * `Encounter` (period, room as its location). The room line references the ChargeItem, which
 * references the Encounter, so every contained resource is referenced (FHIR invariant dom-3).
 */
function stayResources(stay: StayForm, patient: string): Json[] {
  const nights = stayNights(stay.admission, stay.discharge)!
  const period = { start: stay.admission, end: stay.discharge }
  const room = stay.room.trim()
  return [
    {
      resourceType: 'ChargeItem',
      id: STAY_CHARGE_ID,
      status: 'billable',
      code: { text: room },
      subject: person(patient),
      context: { reference: `#${STAY_ENCOUNTER_ID}` },
      occurrencePeriod: period,
      quantity: { value: nights, unit: 'night', system: UCUM, code: 'd' },
    },
    {
      resourceType: 'Encounter',
      id: STAY_ENCOUNTER_ID,
      status: 'finished',
      class: { system: ACT_CODE, code: 'IMP', display: 'inpatient encounter' },
      subject: person(patient),
      period,
      location: [{ location: { display: room } }],
    },
  ]
}

/** A valid invoice form as an `Invoice` issued by the doctor to the patient; totals computed here. */
export function buildInvoice(form: InvoiceForm, { patient, doctor, now = new Date() }: People): Json {
  assertValid(validateInvoice(form))
  const total = invoiceTotal(form)
  const price = (line: InvoiceLine) => [{ type: 'base', factor: parseNumber(line.quantity), amount: { value: lineAmount(line), currency: form.currency } }]
  const lineItem: Json[] = form.lines.map((line, index) => ({
    sequence: index + 1,
    chargeItemCodeableConcept: { text: line.description.trim() },
    priceComponent: price(line),
  }))
  const stay = hasStay(form.stay) ? form.stay : null
  const resource: Json = { resourceType: 'Invoice' }
  if (stay) {
    const room = stayLine(stay)!
    resource.contained = stayResources(stay, patient)
    lineItem.push({ sequence: lineItem.length + 1, chargeItemReference: { reference: `#${STAY_CHARGE_ID}`, display: room.description }, priceComponent: price(room) })
  }
  Object.assign(resource, {
    status: 'issued',
    subject: person(patient),
    recipient: person(patient),
    issuer: person(doctor),
    date: now.toISOString(),
    lineItem,
    totalNet: { value: total, currency: form.currency },
    totalGross: { value: total, currency: form.currency },
  })
  if (form.notes.trim()) resource.note = [{ text: form.notes.trim() }]
  return resource
}

// --- the file that is signed and uploaded ---------------------------------------------------------

function assertValid(errors: Errors) {
  const first = Object.entries(errors)[0]
  if (first) throw new Error(`invalid form: ${first[0]}: ${first[1]}`)
}

/** The resource as the bytes that are fingerprinted, signed and uploaded (UTF-8 JSON). */
export function fhirFile(resource: Json, fileName: string): File {
  return new File([JSON.stringify(resource, null, 2)], fileName, { type: FHIR_CONTENT_TYPE })
}

/** A name for the record the doctor can keep or change: the medication, the report's title, "Invoice …". */
export function suggestedName(resource: Json): string {
  switch (resource.resourceType) {
    case 'MedicationRequest':
      return String((resource.medicationCodeableConcept as Json | undefined)?.text ?? 'Prescription')
    case 'DiagnosticReport':
      return String((resource.code as Json | undefined)?.text ?? 'Report')
    case 'Invoice': {
      const total = resource.totalGross as Json | undefined
      return `Invoice ${String(resource.date ?? '').slice(0, 10)}${total ? ` (${Number(total.value).toFixed(2)} ${String(total.currency)})` : ''}`
    }
    default:
      return 'Record'
  }
}
