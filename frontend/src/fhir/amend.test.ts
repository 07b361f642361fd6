import { describe, expect, it } from 'vitest'
import { invoiceToForm, prescriptionToForm, reportToForm, resourceToForm, parseResource, REPLACES_URL, ANCHOR_SYSTEM, withReplaces } from './amend'
import { buildDiagnosticReport, buildInvoice, buildMedicationRequest, emptyPrescription, emptyStay, type InvoiceForm, type PrescriptionForm, type ReportForm } from './build'

const PATIENT = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
const DOCTOR = '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65'
const NOW = new Date('2026-11-30T09:00:00Z')
const people = { patient: PATIENT, doctor: DOCTOR, now: NOW }
const ANCHOR = `eip155:31337:${PATIENT}/4`

const amoxicillin = (): PrescriptionForm => ({
  ...emptyPrescription(),
  medication: 'Amoxicillin 500 mg capsule',
  code: '308191',
  doseValue: '500',
  doseUnit: 'mg',
  route: 'intramuscular',
  frequency: '3',
  period: '8',
  periodUnit: 'h',
  durationDays: '7',
  validUntil: '2026-12-30',
  quantity: '21',
  quantityUnit: 'capsule',
  refills: '2',
  notes: 'Take with food',
})

const bloodCount = (): ReportForm => ({
  title: 'Complete blood count',
  code: '58410-2',
  conclusion: 'Haemoglobin above range',
  results: [
    { name: 'Haemoglobin', code: '718-7', value: '19.5', unit: 'g/dL', low: '12', high: '16' },
    { name: 'Platelets', code: '', value: '250', unit: '10*3/uL', low: '', high: '400' },
  ],
})

const invoice = (): InvoiceForm => ({
  currency: 'GBP',
  lines: [
    { description: 'Consultation', quantity: '1', unitPrice: '60.00' },
    { description: 'Blood test', quantity: '3', unitPrice: '0.10' },
  ],
  notes: 'Paid at the desk',
  stay: emptyStay(),
})

describe('resourceToForm', () => {
  it('gives back the prescription form a MedicationRequest was built from', () => {
    expect(prescriptionToForm(buildMedicationRequest(amoxicillin(), people))).toEqual(amoxicillin())
  })

  it('keeps the defaults for what a prescription leaves out', () => {
    const minimal = { ...emptyPrescription(), medication: 'Ibuprofen', doseValue: '200', frequency: '2', quantity: '10' }
    expect(prescriptionToForm(buildMedicationRequest(minimal, people))).toEqual(minimal)
  })

  it('gives back the report form, one row per result in order', () => {
    expect(reportToForm(buildDiagnosticReport(bloodCount(), people))).toEqual(bloodCount())
  })

  it('gives back the invoice form, unit prices from each amount and quantity', () => {
    expect(invoiceToForm(buildInvoice(invoice(), people))).toEqual(invoice())
  })

  it('gives back a stay: dates, room and nightly rate, its room line not a typed line', () => {
    const stay = { admission: '2026-11-02', discharge: '2026-11-05', room: '12B', nightlyRate: '150.00' }
    expect(invoiceToForm(buildInvoice({ ...invoice(), stay }, people))).toEqual({ ...invoice(), stay })
    expect(invoiceToForm(buildInvoice({ ...invoice(), lines: [], stay }, people))).toEqual({ ...invoice(), lines: [], stay })
  })

  it('picks the form by resource type and refuses others', () => {
    expect(resourceToForm(buildInvoice(invoice(), people))?.kind).toBe('bill')
    expect(resourceToForm(buildDiagnosticReport(bloodCount(), people))?.kind).toBe('report')
    expect(resourceToForm(buildMedicationRequest(amoxicillin(), people))?.kind).toBe('prescription')
    expect(resourceToForm({ resourceType: 'DocumentReference' })).toBeNull()
  })

  it('survives a resource from elsewhere with missing parts', () => {
    const form = prescriptionToForm({ resourceType: 'MedicationRequest', medicationCodeableConcept: { text: 'Aspirin' } })
    expect(form.medication).toBe('Aspirin')
    expect(form.doseValue).toBe('')
    expect(reportToForm({ resourceType: 'DiagnosticReport' }).results).toHaveLength(1)
  })

  it('parses only a JSON object', () => {
    expect(parseResource('{"resourceType":"Invoice"}')).toEqual({ resourceType: 'Invoice' })
    expect(parseResource('[1]')).toBeNull()
    expect(parseResource('not json')).toBeNull()
  })
})

describe('withReplaces', () => {
  it('adds the replaces extension naming the anchor, after existing extensions', () => {
    const built = { resourceType: 'Invoice', extension: [{ url: 'x', valueString: 'y' }] }
    const amended = withReplaces(built, ANCHOR)
    expect(amended.extension).toEqual([
      { url: 'x', valueString: 'y' },
      { url: REPLACES_URL, valueIdentifier: { system: ANCHOR_SYSTEM, value: ANCHOR } },
    ])
    expect(built.extension).toHaveLength(1)
  })

  it('refuses something that is not an anchor', () => {
    expect(() => withReplaces({ resourceType: 'Invoice' }, 'bafy123')).toThrow(/anchor/)
  })
})
