/**
 * What a structured record's card shows, from its FHIR JSON: pure parsing into plain view models
 * (features render them in components/preview/FhirCard.tsx), unit-tested without React.
 *
 * Defensive on purpose: a record may come from another system (a Bundle import, an older version of
 * the forms), so every field is optional here and read with type checks; anything that is not one of
 * the three known resources, or not JSON at all, becomes `{ kind: 'raw' }` and is shown as text
 * (React escapes it; never injected as HTML).
 */
import { ADDRESS_SYSTEM, frequencyText, INTERPRETATION_SYSTEM, interpret, stayNights } from './build'

type Obj = Record<string, unknown>

export interface PrescriptionView {
  kind: 'prescription'
  medication: string
  code: string | null
  dose: string | null
  route: string | null
  frequency: string | null
  duration: string | null
  /** The dosage instruction's own text, when given. */
  instruction: string | null
  validUntil: string | null
  quantity: string | null
  refills: number | null
  notes: string[]
  authoredOn: string | null
  prescriber: string | null
}

export type Flag = 'high' | 'low' | 'normal' | 'abnormal'

export interface ResultView {
  name: string
  value: string
  unit: string
  /** "12–16 g/dL", "< 5 mmol/L", or null without a range. */
  range: string | null
  flag: Flag | null
  /** The flag in words, for screen readers and print: "High (above 16 g/dL)". */
  flagText: string | null
}

export interface ReportView {
  kind: 'report'
  title: string
  issued: string | null
  conclusion: string | null
  results: ResultView[]
  performer: string | null
}

export interface InvoiceLineView {
  description: string
  quantity: number | null
  unitPrice: number | null
  amount: number | null
}

/** A hospital stay an invoice bills (its contained Encounter and room ChargeItem, see fhir/build.ts). */
export interface StayView {
  admission: string
  discharge: string
  room: string | null
  nights: number | null
}

export interface InvoiceView {
  kind: 'invoice'
  date: string | null
  stay: StayView | null
  currency: string
  lines: InvoiceLineView[]
  total: number | null
  issuer: string | null
  notes: string[]
}

export interface RawView {
  kind: 'raw'
  /** Why no card: "not JSON", "Patient resources have no card". */
  reason: string
}

export type FhirView = PrescriptionView | ReportView | InvoiceView | RawView

/** Pretty-printed JSON when `text` is JSON, else `text` itself (for the "Details" toggle). */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}

export function parseFhir(text: string): FhirView {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch {
    return { kind: 'raw', reason: 'The record is not valid JSON.' }
  }
  if (!isObj(document)) return { kind: 'raw', reason: 'The record is not a FHIR resource.' }
  try {
    switch (document.resourceType) {
      case 'MedicationRequest':
        return prescription(document)
      case 'DiagnosticReport':
        return report(document)
      case 'Invoice':
        return invoice(document)
      default:
        return { kind: 'raw', reason: `${typeof document.resourceType === 'string' ? document.resourceType : 'This'} resource has no card.` }
    }
  } catch {
    return { kind: 'raw', reason: 'The resource could not be read.' }
  }
}

// --- reading helpers -----------------------------------------------------------------------------

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
function obj(value: unknown): Obj {
  return isObj(value) ? value : {}
}
function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}
function str(value: unknown): string | null {
  return typeof value === 'string' && value.trim() ? value : null
}
function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

/** A CodeableConcept in words: its text, else its first coding's display or code. */
function concept(value: unknown): string | null {
  const c = obj(value)
  const first = obj(arr(c.coding)[0])
  return str(c.text) ?? str(first.display) ?? str(first.code)
}
function conceptCode(value: unknown): string | null {
  const first = obj(arr(obj(value).coding)[0])
  return str(first.code)
}

/** "500 mg", "21 capsule". */
function quantityText(value: unknown): string | null {
  const q = obj(value)
  const n = num(q.value)
  if (n === null) return null
  const unit = str(q.unit) ?? str(q.code)
  return unit ? `${n} ${unit}` : String(n)
}

/** Who a Reference names: the account address of its identifier, or its display / reference. */
export function referenceName(value: unknown): string | null {
  const r = obj(value)
  const identifier = obj(r.identifier)
  if (identifier.system === ADDRESS_SYSTEM && str(identifier.value)) return str(identifier.value)
  return str(r.display) ?? str(r.reference)
}

// --- prescription --------------------------------------------------------------------------------

function prescription(resource: Obj): PrescriptionView {
  const dosage = obj(arr(resource.dosageInstruction)[0])
  const repeat = obj(obj(dosage.timing).repeat)
  const frequency = num(repeat.frequency)
  const bounds = obj(repeat.boundsDuration)
  const days = num(bounds.value)
  const dispense = obj(resource.dispenseRequest)
  const medication = concept(resource.medicationCodeableConcept) ?? referenceName(resource.medicationReference) ?? 'Medication not named'
  return {
    kind: 'prescription',
    medication,
    code: conceptCode(resource.medicationCodeableConcept),
    dose: quantityText(obj(arr(dosage.doseAndRate)[0]).doseQuantity),
    route: concept(dosage.route),
    frequency: frequency !== null ? frequencyText(frequency, num(repeat.period) ?? 1, str(repeat.periodUnit) ?? 'd') : null,
    duration: days !== null ? `${days} ${durationUnit(str(bounds.code) ?? str(bounds.unit), days)}` : null,
    instruction: str(dosage.text),
    validUntil: str(obj(dispense.validityPeriod).end),
    quantity: quantityText(dispense.quantity),
    refills: num(dispense.numberOfRepeatsAllowed),
    notes: arr(resource.note).map((n) => str(obj(n).text)).filter((t): t is string => t !== null),
    authoredOn: str(resource.authoredOn),
    prescriber: referenceName(resource.requester),
  }
}

function durationUnit(unit: string | null, count: number): string {
  const words: Record<string, [string, string]> = { d: ['day', 'days'], wk: ['week', 'weeks'], h: ['hour', 'hours'], mo: ['month', 'months'] }
  const pair = unit ? words[unit] : undefined
  if (!pair) return unit ?? 'days'
  return count === 1 ? pair[0] : pair[1]
}

// --- report --------------------------------------------------------------------------------------

const FLAG_OF_CODE: Record<string, Flag> = { H: 'high', HH: 'high', HU: 'high', L: 'low', LL: 'low', LU: 'low', N: 'normal', A: 'abnormal', AA: 'abnormal' }
const FLAG_WORDS: Record<Flag, string> = { high: 'High', low: 'Low', normal: 'Normal', abnormal: 'Abnormal' }

/** The report's results: its `result` references resolved among the contained Observations (all of them when none is referenced). */
function report(resource: Obj): ReportView {
  const contained = arr(resource.contained).filter((r) => isObj(r) && r.resourceType === 'Observation') as Obj[]
  const byId = new Map(contained.map((o) => [`#${String(o.id)}`, o]))
  const referenced = arr(resource.result)
    .map((r) => byId.get(String(obj(r).reference)))
    .filter((o): o is Obj => o !== undefined)
  const observations = referenced.length ? referenced : contained
  return {
    kind: 'report',
    title: concept(resource.code) ?? 'Report',
    issued: str(resource.issued) ?? str(resource.effectiveDateTime),
    conclusion: str(resource.conclusion),
    results: observations.map(result),
    performer: referenceName(arr(resource.performer)[0]),
  }
}

function result(observation: Obj): ResultView {
  const q = obj(observation.valueQuantity)
  const value = num(q.value)
  const unit = str(q.unit) ?? str(q.code) ?? ''
  const range = obj(arr(observation.referenceRange)[0])
  const low = num(obj(range.low).value)
  const high = num(obj(range.high).value)
  const rangeText =
    low !== null && high !== null ? `${low}–${high}${unit ? ` ${unit}` : ''}`
    : low !== null ? `≥ ${low}${unit ? ` ${unit}` : ''}`
    : high !== null ? `≤ ${high}${unit ? ` ${unit}` : ''}`
    : str(range.text)
  // The signed interpretation first; computed from the range when the record carries none.
  const coded = arr(observation.interpretation)
    .flatMap((i) => arr(obj(i).coding))
    .map((c) => obj(c))
    .find((c) => c.system === INTERPRETATION_SYSTEM || c.system === undefined)
  const code = str(coded?.code)
  let flag: Flag | null = code && FLAG_OF_CODE[code] ? FLAG_OF_CODE[code] : null
  if (!flag && value !== null) {
    const computed = interpret(value, low, high)
    flag = computed ? FLAG_OF_CODE[computed] : null
  }
  const displayValue = value !== null ? String(value) : (str(observation.valueString) ?? concept(observation.valueCodeableConcept) ?? '—')
  return {
    name: concept(observation.code) ?? 'Result',
    value: displayValue,
    unit,
    range: rangeText,
    flag,
    flagText: flag ? flagText(flag, low, high, unit) : null,
  }
}

function flagText(flag: Flag, low: number | null, high: number | null, unit: string): string {
  const u = unit ? ` ${unit}` : ''
  if (flag === 'high' && high !== null) return `High (above ${high}${u})`
  if (flag === 'low' && low !== null) return `Low (below ${low}${u})`
  if (flag === 'normal') return 'Normal (within range)'
  return FLAG_WORDS[flag]
}

/** Whether a result is outside its range (shown with a marker and words, not colour alone). */
export function isOutOfRange(result: ResultView): boolean {
  return result.flag === 'high' || result.flag === 'low' || result.flag === 'abnormal'
}

// --- invoice -------------------------------------------------------------------------------------

function invoice(resource: Obj): InvoiceView {
  let currency = ''
  const lines = arr(resource.lineItem).map((item): InvoiceLineView => {
    const line = obj(item)
    const base = obj(arr(line.priceComponent).map(obj).find((p) => p.type === 'base') ?? arr(line.priceComponent)[0])
    const money = obj(base.amount)
    currency ||= str(money.currency) ?? ''
    const amount = num(money.value)
    const quantity = num(base.factor) ?? (amount !== null ? 1 : null)
    return {
      description: concept(line.chargeItemCodeableConcept) ?? referenceName(line.chargeItemReference) ?? 'Item',
      quantity,
      unitPrice: amount !== null && quantity ? Math.round((amount / quantity) * 100) / 100 : null,
      amount,
    }
  })
  const total = obj(resource.totalGross ?? resource.totalNet)
  currency = str(total.currency) ?? currency
  const summed = lines.every((l) => l.amount !== null) && lines.length ? Math.round(lines.reduce((s, l) => s + (l.amount ?? 0) * 100, 0)) / 100 : null
  return {
    kind: 'invoice',
    date: str(resource.date),
    stay: stay(resource),
    currency,
    lines,
    total: num(total.value) ?? summed,
    issuer: referenceName(resource.issuer),
    notes: arr(resource.note).map((n) => str(obj(n).text)).filter((t): t is string => t !== null),
  }
}

/**
 * The stay an invoice describes: its contained Encounter's period (the room from its location, else
 * from a contained ChargeItem's code), nights from the ChargeItem's quantity or else the dates.
 * Null when the invoice contains no Encounter with both dates.
 */
function stay(resource: Obj): StayView | null {
  const contained = arr(resource.contained).filter(isObj)
  const encounter = contained.find((r) => r.resourceType === 'Encounter')
  if (!encounter) return null
  const period = obj(encounter.period)
  const admission = str(period.start)
  const discharge = str(period.end)
  if (!admission || !discharge) return null
  const charge = contained.find((r) => r.resourceType === 'ChargeItem' && obj(r.context).reference === `#${String(encounter.id)}`) ?? contained.find((r) => r.resourceType === 'ChargeItem')
  const room = str(obj(obj(arr(encounter.location)[0]).location).display) ?? (charge ? concept(charge.code) : null)
  const nights = (charge ? num(obj(charge.quantity).value) : null) ?? stayNights(admission.slice(0, 10), discharge.slice(0, 10))
  return { admission, discharge, room, nights }
}

/** "Stay: 2026-11-02 – 2026-11-05, room 12B (3 nights)". */
export function stayText(view: StayView): string {
  const room = view.room ? `, room ${view.room}` : ''
  const nights = view.nights !== null ? ` (${view.nights} night${view.nights === 1 ? '' : 's'})` : ''
  return `Stay: ${view.admission} – ${view.discharge}${room}${nights}`
}

/** "120.50 EUR" (two decimals; the currency code, unambiguous for every currency). */
export function money(value: number | null, currency: string): string {
  if (value === null) return '—'
  return `${value.toFixed(2)}${currency ? ` ${currency}` : ''}`
}
