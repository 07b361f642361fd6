/**
 * Amending a structured record (README "FHIR records: Amendments"): the form a doctor amends starts
 * from the current version's resource, and the new resource names that version by its chain anchor.
 *
 * `*ToForm` are the inverse of the builders in build.ts for what those builders write (the forms'
 * strings back from the resource's numbers and codes); a field the form has no input for is not
 * carried over, because the amendment is rebuilt by the same builder as a new record. Pure functions,
 * unit-tested with round trips (form -> build -> toForm gives the same form).
 */
import {
  DOSE_UNITS,
  emptyInvoice,
  emptyPrescription,
  emptyReport,
  emptyResult,
  PERIOD_UNITS,
  RXNORM,
  ROUTES,
  type InvoiceForm,
  type Json,
  type PrescriptionForm,
  type ReportForm,
  type ResultRow,
} from './build'

/** The extension every amendment carries: the previous version's anchor (`eip155:<chainId>:<vault>/<recordId>`). */
export const REPLACES_URL = 'urn:healthledger:fhir:replaces'
export const ANCHOR_SYSTEM = 'urn:healthledger:anchor'

const obj = (value: unknown): Json => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {})
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [])
const text = (value: unknown): string => (value === undefined || value === null ? '' : String(value))

/** A MedicationRequest as the prescription form (what build.ts's `buildMedicationRequest` wrote). */
export function prescriptionToForm(resource: Json): PrescriptionForm {
  const form = emptyPrescription()
  const medication = obj(resource.medicationCodeableConcept)
  form.medication = text(medication.text)
  const coding = obj(list(medication.coding)[0])
  form.code = text(coding.code)
  form.codeSystem = text(coding.system) || RXNORM
  const dosage = obj(list(resource.dosageInstruction)[0])
  const dose = obj(obj(list(dosage.doseAndRate)[0]).doseQuantity)
  form.doseValue = text(dose.value)
  if (DOSE_UNITS.some((u) => u.unit === dose.unit)) form.doseUnit = String(dose.unit)
  const routeText = text(obj(dosage.route).text)
  const routeCode = text(obj(list(obj(dosage.route).coding)[0]).code)
  const route = ROUTES.find((r) => r.snomed === routeCode || r.label === routeText)
  if (route) form.route = route.value
  const repeat = obj(obj(dosage.timing).repeat)
  form.frequency = text(repeat.frequency)
  form.period = text(repeat.period) || '1'
  const unit = PERIOD_UNITS.find((u) => u.value === repeat.periodUnit)
  if (unit) form.periodUnit = unit.value
  form.durationDays = text(obj(repeat.boundsDuration).value)
  const dispense = obj(resource.dispenseRequest)
  form.validUntil = text(obj(dispense.validityPeriod).end).slice(0, 10)
  const quantity = obj(dispense.quantity)
  form.quantity = text(quantity.value)
  if (DOSE_UNITS.some((u) => u.unit === quantity.unit)) form.quantityUnit = String(quantity.unit)
  form.refills = text(dispense.numberOfRepeatsAllowed) || '0'
  form.notes = text(obj(list(resource.note)[0]).text)
  return form
}

/** A DiagnosticReport with contained Observations as the report form (one row per result, in order). */
export function reportToForm(resource: Json): ReportForm {
  const form = emptyReport()
  const code = obj(resource.code)
  form.title = text(code.text)
  form.code = text(obj(list(code.coding)[0]).code)
  form.conclusion = text(resource.conclusion)
  const contained = new Map(list(resource.contained).map((o) => [text(obj(o).id), obj(o)]))
  const results = list(resource.result)
    .map((ref) => contained.get(text(obj(ref).reference).replace(/^#/, '')))
    .filter((o): o is Json => !!o)
  const rows = results.map((observation): ResultRow => {
    const row = emptyResult()
    const oc = obj(observation.code)
    row.name = text(oc.text)
    row.code = text(obj(list(oc.coding)[0]).code)
    const value = obj(observation.valueQuantity)
    row.value = text(value.value)
    row.unit = text(value.unit)
    const range = obj(list(observation.referenceRange)[0])
    row.low = text(obj(range.low).value)
    row.high = text(obj(range.high).value)
    return row
  })
  if (rows.length) form.results = rows
  return form
}

/** An Invoice as the invoice form (each line's quantity and unit price back from its base price component). */
export function invoiceToForm(resource: Json): InvoiceForm {
  const form = emptyInvoice()
  const total = obj(resource.totalGross)
  // The stay's room line is derived from the stay (below), not a typed line.
  const stayCharge = list(resource.contained).map(obj).find((r) => r.resourceType === 'ChargeItem')
  const encounter = list(resource.contained).map(obj).find((r) => r.resourceType === 'Encounter')
  const isRoomLine = (line: Json) => !!stayCharge && obj(line.chargeItemReference).reference === `#${text(stayCharge.id)}`
  const roomLine = list(resource.lineItem).map(obj).find(isRoomLine)
  const lines = list(resource.lineItem).map(obj).filter((line) => !isRoomLine(line)).map((line) => {
    const price = obj(list(line.priceComponent)[0])
    const factor = typeof price.factor === 'number' && price.factor > 0 ? price.factor : 1
    const amount = Number(obj(price.amount).value)
    // The builder wrote amount = quantity × unit price, rounded to the cent.
    const unitPrice = Number.isFinite(amount) ? Math.round((amount / factor) * 100) / 100 : NaN
    return {
      description: text(obj(line.chargeItemCodeableConcept).text),
      quantity: text(factor),
      unitPrice: Number.isFinite(unitPrice) ? unitPrice.toFixed(2) : '',
    }
  })
  if (lines.length) form.lines = lines
  const currency = text(total.currency) || text(obj(obj(list(obj(list(resource.lineItem)[0]).priceComponent)[0]).amount).currency)
  if (currency) form.currency = currency
  form.notes = text(obj(list(resource.note)[0]).text)
  if (encounter && stayCharge && roomLine) {
    const period = obj(encounter.period)
    const price = obj(list(roomLine.priceComponent)[0])
    const factor = typeof price.factor === 'number' && price.factor > 0 ? price.factor : 1
    const amount = Number(obj(price.amount).value)
    form.stay = {
      admission: text(period.start).slice(0, 10),
      discharge: text(period.end).slice(0, 10),
      room: text(obj(obj(list(encounter.location)[0]).location).display) || text(obj(stayCharge.code).text),
      nightlyRate: Number.isFinite(amount) ? (Math.round((amount / factor) * 100) / 100).toFixed(2) : '',
    }
    // A stay alone is a whole invoice: no empty typed line to fill in.
    if (lines.length === 0) form.lines = []
  }
  return form
}

export type AnyForm = { kind: 'prescription'; form: PrescriptionForm } | { kind: 'report'; form: ReportForm } | { kind: 'bill'; form: InvoiceForm }

/** The form for a resource of one of the three kinds; null for anything else (it cannot be amended here). */
export function resourceToForm(resource: Json): AnyForm | null {
  switch (resource.resourceType) {
    case 'MedicationRequest':
      return { kind: 'prescription', form: prescriptionToForm(resource) }
    case 'DiagnosticReport':
      return { kind: 'report', form: reportToForm(resource) }
    case 'Invoice':
      return { kind: 'bill', form: invoiceToForm(resource) }
    default:
      return null
  }
}

/** Parse a record's bytes as a resource to amend; null when they are not one JSON object. */
export function parseResource(textValue: string): Json | null {
  try {
    const value: unknown = JSON.parse(textValue)
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null
  } catch {
    return null
  }
}

/**
 * The amendment: `resource` (freshly built from the form) with the replaces extension naming the
 * previous version's anchor, the link the server checks (services/amendments.py). The resource is
 * not modified; the extension is added after any it already has.
 */
export function withReplaces(resource: Json, anchor: string): Json {
  if (!/^eip155:\d+:0x[0-9a-fA-F]{40}\/\d+$/.test(anchor)) throw new Error(`not a record anchor: ${anchor}`)
  const extension = [...list(resource.extension), { url: REPLACES_URL, valueIdentifier: { system: ANCHOR_SYSTEM, value: anchor } }]
  return { ...resource, extension }
}
