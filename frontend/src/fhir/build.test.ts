import { describe, expect, it } from 'vitest'
import {
  ADDRESS_SYSTEM,
  buildDiagnosticReport,
  buildInvoice,
  buildMedicationRequest,
  ACT_CODE,
  emptyInvoice,
  emptyPrescription,
  emptyStay,
  hasStay,
  stayLine,
  stayNights,
  emptyReport,
  fhirFile,
  frequencyText,
  interpret,
  invoiceTotal,
  lineAmount,
  parseNumber,
  suggestedName,
  validateInvoice,
  validatePrescription,
  validateReport,
  type InvoiceForm,
  type PrescriptionForm,
  type ReportForm,
} from './build'

const PATIENT = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
const DOCTOR = '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65'
const NOW = new Date('2026-11-30T09:00:00Z')
const people = { patient: PATIENT, doctor: DOCTOR, now: NOW }

function amoxicillin(): PrescriptionForm {
  return { ...emptyPrescription(), medication: 'Amoxicillin 500 mg capsule', code: '308191', doseValue: '500', doseUnit: 'mg', frequency: '3', durationDays: '7', validUntil: '2026-12-30', quantity: '21', quantityUnit: 'capsule', refills: '0' }
}

function bloodCount(): ReportForm {
  return {
    title: 'Complete blood count',
    code: '58410-2',
    conclusion: 'Haemoglobin above range',
    results: [
      { name: 'Haemoglobin', code: '718-7', value: '19.5', unit: 'g/dL', low: '12', high: '16' },
      { name: 'Platelets', code: '', value: '250', unit: '10*9/L', low: '150', high: '400' },
    ],
  }
}

describe('numbers', () => {
  it('reads decimals with a point or a comma, refuses the rest', () => {
    expect(parseNumber('1.5')).toBe(1.5)
    expect(parseNumber(' 1,5 ')).toBe(1.5)
    expect(parseNumber('')).toBeNull()
    expect(parseNumber('12abc')).toBeNull()
    expect(parseNumber('1e3')).toBeNull()
  })
})

describe('prescription', () => {
  it('says what is missing, field by field', () => {
    const errors = validatePrescription(emptyPrescription(), NOW)
    expect(errors.medication).toMatch(/Enter the medication/)
    expect(errors.doseValue).toBe('Enter the dose.')
    expect(errors.frequency).toBe('Enter how many times.')
    expect(errors.quantity).toBe('Enter the quantity to dispense.')
    expect(errors.refills).toBeUndefined()
    expect(validatePrescription(amoxicillin(), NOW)).toEqual({})
  })

  it('wants positive numbers, whole where counted, and a future last day', () => {
    const errors = validatePrescription({ ...amoxicillin(), doseValue: '-5', frequency: '1.5', quantity: 'x', refills: '-1', validUntil: '2026-11-01' }, NOW)
    expect(errors.doseValue).toBe('The dose must be more than 0.')
    expect(errors.frequency).toBe('How many times must be a whole number.')
    expect(errors.quantity).toBe('The quantity to dispense must be a number.')
    expect(errors.refills).toMatch(/whole number, 0 or more/)
    expect(errors.validUntil).toMatch(/past/)
  })

  it('builds a MedicationRequest naming the patient and the doctor by address', () => {
    const resource = buildMedicationRequest(amoxicillin(), people) as any
    expect(resource.resourceType).toBe('MedicationRequest')
    expect(resource.subject).toEqual({ identifier: { system: ADDRESS_SYSTEM, value: PATIENT } })
    expect(resource.requester).toEqual({ identifier: { system: ADDRESS_SYSTEM, value: DOCTOR } })
    expect(resource.medicationCodeableConcept).toEqual({ text: 'Amoxicillin 500 mg capsule', coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '308191' }] })
    const dosage = resource.dosageInstruction[0]
    expect(dosage.text).toBe('500 mg by mouth, 3 times a day, for 7 days')
    expect(dosage.timing.repeat).toEqual({ frequency: 3, period: 1, periodUnit: 'd', boundsDuration: { value: 7, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' } })
    expect(dosage.doseAndRate[0].doseQuantity).toEqual({ value: 500, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' })
    expect(dosage.route.coding[0].code).toBe('26643006')
    expect(resource.dispenseRequest).toEqual({ quantity: { value: 21, unit: 'capsule' }, numberOfRepeatsAllowed: 0, validityPeriod: { start: '2026-11-30', end: '2026-12-30' } })
    expect(resource.authoredOn).toBe('2026-11-30T09:00:00.000Z')
    expect(resource.note).toBeUndefined()
  })

  it('leaves out what was not filled in, and refuses to build an invalid form', () => {
    const resource = buildMedicationRequest({ ...amoxicillin(), code: '', durationDays: '', validUntil: '', notes: ' Take with food ' }, people) as any
    expect(resource.medicationCodeableConcept).toEqual({ text: 'Amoxicillin 500 mg capsule' })
    expect(resource.dosageInstruction[0].timing.repeat.boundsDuration).toBeUndefined()
    expect(resource.dispenseRequest.validityPeriod).toBeUndefined()
    expect(resource.note).toEqual([{ text: 'Take with food' }])
    expect(() => buildMedicationRequest(emptyPrescription(), people)).toThrow(/medication/)
  })

  it('words frequencies as people say them', () => {
    expect(frequencyText(1, 1, 'd')).toBe('once a day')
    expect(frequencyText(2, 1, 'd')).toBe('twice a day')
    expect(frequencyText(1, 8, 'h')).toBe('once every 8 hours')
    expect(frequencyText(3, 1, 'wk')).toBe('3 times a week')
  })
})

describe('result report', () => {
  it('flags H above the range, L below, N within (bounds included), nothing without a range', () => {
    expect(interpret(19.5, 12, 16)).toBe('H')
    expect(interpret(11.9, 12, 16)).toBe('L')
    expect(interpret(16, 12, 16)).toBe('N')
    expect(interpret(12, 12, null)).toBe('N')
    expect(interpret(3, null, 2)).toBe('H')
    expect(interpret(3, null, null)).toBeUndefined()
  })

  it('validates each result: name, numeric value, unit, low below high', () => {
    expect(validateReport(emptyReport())).toMatchObject({ title: expect.any(String), 'results.0.name': expect.any(String), 'results.0.value': 'Enter the value.', 'results.0.unit': expect.any(String) })
    const errors = validateReport({ ...bloodCount(), results: [{ name: 'Hb', code: '', value: 'high', unit: 'g/dL', low: '16', high: '12' }] })
    expect(errors['results.0.value']).toBe('The value must be a number.')
    expect(errors['results.0.high']).toBe('The high end must be above the low end.')
    expect(validateReport({ ...bloodCount(), results: [] }).results).toBe('Add at least one result.')
    expect(validateReport(bloodCount())).toEqual({})
  })

  it('builds a DiagnosticReport with contained Observations, each flagged from its range', () => {
    const report = buildDiagnosticReport(bloodCount(), people) as any
    expect(report.resourceType).toBe('DiagnosticReport')
    expect(report.code).toEqual({ text: 'Complete blood count', coding: [{ system: 'http://loinc.org', code: '58410-2' }] })
    expect(report.performer).toEqual([{ identifier: { system: ADDRESS_SYSTEM, value: DOCTOR } }])
    expect(report.result.map((r: any) => r.reference)).toEqual(['#r1', '#r2'])
    const [hb, plt] = report.contained
    expect(hb).toMatchObject({ resourceType: 'Observation', id: 'r1', status: 'final', valueQuantity: { value: 19.5, unit: 'g/dL' } })
    expect(hb.subject.identifier.value).toBe(PATIENT)
    expect(hb.referenceRange).toEqual([{ low: { value: 12, unit: 'g/dL' }, high: { value: 16, unit: 'g/dL' } }])
    expect(hb.interpretation[0].coding[0].code).toBe('H')
    expect(plt.interpretation[0].coding[0].code).toBe('N')
    expect(report.conclusion).toBe('Haemoglobin above range')
  })

  it('writes no range and no flag for a result without bounds', () => {
    const report = buildDiagnosticReport({ ...bloodCount(), results: [{ name: 'Glucose', code: '', value: '5.1', unit: 'mmol/L', low: '', high: '' }] }, people) as any
    expect(report.contained[0].referenceRange).toBeUndefined()
    expect(report.contained[0].interpretation).toBeUndefined()
  })
})

describe('invoice', () => {
  const form: InvoiceForm = {
    currency: 'EUR',
    notes: '',
    lines: [
      { description: 'Consultation', quantity: '1', unitPrice: '120.50' },
      { description: 'Blood draw', quantity: '3', unitPrice: '0.10' },
    ],
  }

  it('computes line amounts and the total to the cent', () => {
    expect(lineAmount(form.lines[1])).toBe(0.3)
    expect(invoiceTotal(form)).toBe(120.8)
    expect(lineAmount({ description: '', quantity: '', unitPrice: '1' })).toBeNull()
  })

  it('validates lines: description, positive quantity, price with at most two decimals', () => {
    expect(validateInvoice(emptyInvoice())).toMatchObject({ 'lines.0.description': expect.any(String), 'lines.0.unitPrice': 'Enter the unit price.' })
    const errors = validateInvoice({ ...form, lines: [{ description: 'X', quantity: '0', unitPrice: '1.234' }] })
    expect(errors['lines.0.quantity']).toBe('The quantity must be more than 0.')
    expect(errors['lines.0.unitPrice']).toBe('Use at most two decimals.')
    expect(validateInvoice({ ...form, lines: [{ description: 'Free', quantity: '1', unitPrice: '0' }] }).lines).toMatch(/total/)
    expect(validateInvoice(form)).toEqual({})
  })

  it('builds an Invoice issued by the doctor to the patient, with computed totals', () => {
    const resource = buildInvoice(form, people) as any
    expect(resource.issuer.identifier.value).toBe(DOCTOR)
    expect(resource.subject.identifier.value).toBe(PATIENT)
    expect(resource.lineItem[1]).toEqual({ sequence: 2, chargeItemCodeableConcept: { text: 'Blood draw' }, priceComponent: [{ type: 'base', factor: 3, amount: { value: 0.3, currency: 'EUR' } }] })
    expect(resource.totalGross).toEqual({ value: 120.8, currency: 'EUR' })
    expect(suggestedName(resource)).toBe('Invoice 2026-11-30 (120.80 EUR)')
  })
})

describe('stay invoice', () => {
  const stay = { admission: '2026-11-02', discharge: '2026-11-05', room: '12B', nightlyRate: '150.00' }
  const form: InvoiceForm = { currency: 'EUR', notes: '', lines: [{ description: 'Consultation', quantity: '1', unitPrice: '80' }], stay }

  it('counts nights from the dates and bills the room as nights × rate', () => {
    expect(stayNights('2026-11-02', '2026-11-05')).toBe(3)
    expect(stayNights('2026-02-28', '2026-03-01')).toBe(1)
    expect(stayNights('2026-11-02', '')).toBeNull()
    expect(stayLine(stay)).toEqual({ description: 'Room 12B, 3 nights', quantity: '3', unitPrice: '150.00' })
    expect(invoiceTotal(form)).toBe(530)
    expect(hasStay(emptyStay())).toBe(false)
    expect(hasStay(undefined)).toBe(false)
  })

  it('validates the stay only once started: dates in order, room, rate', () => {
    expect(validateInvoice({ ...form, stay: emptyStay() })).toEqual({})
    const errors = validateInvoice({ ...form, stay: { admission: '2026-11-05', discharge: '2026-11-05', room: ' ', nightlyRate: '1.234' } })
    expect(errors['stay.discharge']).toMatch(/at least one night/)
    expect(errors['stay.room']).toBe('Enter the room.')
    expect(errors['stay.nightlyRate']).toBe('Use at most two decimals.')
    expect(validateInvoice({ ...form, stay: { ...stay, admission: '' } })['stay.admission']).toBe('Enter the admission date.')
    // A stay alone is a whole invoice.
    expect(validateInvoice({ ...form, lines: [], stay })).toEqual({})
    expect(validateInvoice({ ...form, lines: [] , stay: emptyStay() }).lines).toBe('Add at least one line.')
  })

  it('models the stay the R4 way: a room line referencing a contained ChargeItem in a contained inpatient Encounter', () => {
    const resource = buildInvoice(form, people) as any
    const [charge, encounter] = resource.contained
    expect(resource.lineItem[1]).toEqual({
      sequence: 2,
      chargeItemReference: { reference: '#stay-room', display: 'Room 12B, 3 nights' },
      priceComponent: [{ type: 'base', factor: 3, amount: { value: 450, currency: 'EUR' } }],
    })
    expect(charge).toMatchObject({ resourceType: 'ChargeItem', id: 'stay-room', status: 'billable', code: { text: '12B' }, quantity: { value: 3 }, context: { reference: '#stay' } })
    expect(charge.occurrencePeriod).toEqual({ start: '2026-11-02', end: '2026-11-05' })
    expect(charge.subject.identifier.value).toBe(PATIENT)
    expect(encounter).toMatchObject({ resourceType: 'Encounter', id: 'stay', status: 'finished', period: { start: '2026-11-02', end: '2026-11-05' } })
    expect(encounter.class).toEqual({ system: ACT_CODE, code: 'IMP', display: 'inpatient encounter' })
    expect(encounter.location[0].location.display).toBe('12B')
    expect(encounter.subject.identifier.value).toBe(PATIENT)
    expect(resource.totalGross).toEqual({ value: 530, currency: 'EUR' })
    // dom-3: every contained resource is referenced from within the Invoice.
    const text = JSON.stringify({ ...resource, contained: undefined }) + JSON.stringify(resource.contained)
    for (const item of resource.contained) expect(text).toContain(`"#${item.id}"`)
  })

  it('an invoice without a stay contains nothing', () => {
    expect((buildInvoice({ ...form, stay: emptyStay() }, people) as any).contained).toBeUndefined()
  })
})

describe('the uploaded file', () => {
  it('is the JSON with the FHIR content type', async () => {
    const resource = buildMedicationRequest(amoxicillin(), people)
    const file = fhirFile(resource, 'prescription.fhir.json')
    expect(file.type).toBe('application/fhir+json')
    expect(JSON.parse(await file.text())).toEqual(resource)
    expect(suggestedName(resource)).toBe('Amoxicillin 500 mg capsule')
  })
})
