import { describe, expect, it } from 'vitest'
import { buildDiagnosticReport, buildInvoice, buildMedicationRequest, emptyPrescription } from './build'
import { isOutOfRange, money, parseFhir, prettyJson, stayText, type InvoiceView, type PrescriptionView, type ReportView } from './render'

const PATIENT = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
const DOCTOR = '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65'
const people = { patient: PATIENT, doctor: DOCTOR, now: new Date('2026-11-30T09:00:00Z') }

describe('parseFhir', () => {
  it('reads a prescription as the card shows it', () => {
    const resource = buildMedicationRequest(
      { ...emptyPrescription(), medication: 'Amoxicillin 500 mg', doseValue: '500', frequency: '3', durationDays: '7', validUntil: '2026-12-30', quantity: '21', quantityUnit: 'capsule', refills: '2', notes: 'With food' },
      people,
    )
    const view = parseFhir(JSON.stringify(resource)) as PrescriptionView
    expect(view).toMatchObject({
      kind: 'prescription',
      medication: 'Amoxicillin 500 mg',
      dose: '500 mg',
      route: 'By mouth',
      frequency: '3 times a day',
      duration: '7 days',
      validUntil: '2026-12-30',
      quantity: '21 capsule',
      refills: 2,
      notes: ['With food'],
      prescriber: DOCTOR,
    })
  })

  it('reads a report, flags the out-of-range result in words', () => {
    const resource = buildDiagnosticReport(
      {
        title: 'Blood count',
        code: '',
        conclusion: '',
        results: [
          { name: 'Haemoglobin', code: '', value: '19.5', unit: 'g/dL', low: '12', high: '16' },
          { name: 'Ferritin', code: '', value: '10', unit: 'ug/L', low: '15', high: '' },
          { name: 'Platelets', code: '', value: '250', unit: '10*9/L', low: '150', high: '400' },
        ],
      },
      people,
    )
    const view = parseFhir(JSON.stringify(resource)) as ReportView
    expect(view.title).toBe('Blood count')
    expect(view.results.map((r) => [r.name, r.value, r.range, r.flag, r.flagText])).toEqual([
      ['Haemoglobin', '19.5', '12–16 g/dL', 'high', 'High (above 16 g/dL)'],
      ['Ferritin', '10', '≥ 15 ug/L', 'low', 'Low (below 15 ug/L)'],
      ['Platelets', '250', '150–400 10*9/L', 'normal', 'Normal (within range)'],
    ])
    expect(view.results.map(isOutOfRange)).toEqual([true, true, false])
  })

  it('computes the flag from the range when a report from elsewhere carries no interpretation', () => {
    const view = parseFhir(
      JSON.stringify({
        resourceType: 'DiagnosticReport',
        code: { coding: [{ display: 'Lipids' }] },
        contained: [{ resourceType: 'Observation', id: 'a', code: { text: 'LDL' }, valueQuantity: { value: 5, unit: 'mmol/L' }, referenceRange: [{ high: { value: 3 } }] }],
        result: [{ reference: '#a' }],
      }),
    ) as ReportView
    expect(view.title).toBe('Lipids')
    expect(view.results[0]).toMatchObject({ flag: 'high', range: '≤ 3 mmol/L' })
  })

  it('reads an invoice: lines with unit prices, total, issuer', () => {
    const resource = buildInvoice({ currency: 'GBP', notes: '', lines: [{ description: 'Consultation', quantity: '2', unitPrice: '60.25' }] }, people)
    const view = parseFhir(JSON.stringify(resource)) as InvoiceView
    expect(view.lines).toEqual([{ description: 'Consultation', quantity: 2, unitPrice: 60.25, amount: 120.5 }])
    expect(money(view.total, view.currency)).toBe('120.50 GBP')
    expect(view.issuer).toBe(DOCTOR)
  })

  it('reads a stay invoice: the stay line and the stay in words', () => {
    const stay = { admission: '2026-11-02', discharge: '2026-11-05', room: '12B', nightlyRate: '150' }
    const resource = buildInvoice({ currency: 'EUR', notes: '', lines: [], stay }, people)
    const view = parseFhir(JSON.stringify(resource)) as InvoiceView
    expect(view.stay).toEqual({ admission: '2026-11-02', discharge: '2026-11-05', room: '12B', nights: 3 })
    expect(stayText(view.stay!)).toBe('Stay: 2026-11-02 – 2026-11-05, room 12B (3 nights)')
    expect(view.lines).toEqual([{ description: 'Room 12B, 3 nights', quantity: 3, unitPrice: 150, amount: 450 }])
    expect(view.total).toBe(450)
    // Another system's Encounter without a ChargeItem: nights from the dates.
    const other = parseFhir(JSON.stringify({ resourceType: 'Invoice', contained: [{ resourceType: 'Encounter', id: 'e', period: { start: '2026-01-01', end: '2026-01-02' } }] })) as InvoiceView
    expect(stayText(other.stay!)).toBe('Stay: 2026-01-01 – 2026-01-02 (1 night)')
    expect((parseFhir(JSON.stringify(buildInvoice({ currency: 'EUR', notes: '', lines: [{ description: 'X', quantity: '1', unitPrice: '1' }] }, people))) as InvoiceView).stay).toBeNull()
  })

  it('falls back to raw for anything else, never throwing', () => {
    expect(parseFhir('not json')).toEqual({ kind: 'raw', reason: 'The record is not valid JSON.' })
    expect(parseFhir('[1,2]').kind).toBe('raw')
    expect(parseFhir('{"resourceType":"Patient"}')).toEqual({ kind: 'raw', reason: 'Patient resource has no card.' })
    // Odd shapes in known resources still give a card, with what can be read.
    const odd = parseFhir('{"resourceType":"MedicationRequest","dosageInstruction":"x","dispenseRequest":[1],"note":[null]}') as PrescriptionView
    expect(odd).toMatchObject({ kind: 'prescription', medication: 'Medication not named', dose: null, refills: null, notes: [] })
    expect(parseFhir('{"resourceType":"Invoice","lineItem":[{"priceComponent":[{"amount":{"value":"9"}}]}]}')).toMatchObject({ kind: 'invoice', total: null })
  })

  it('pretty-prints JSON for the Details toggle and leaves other text as it is', () => {
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}')
    expect(prettyJson('<b>x</b>')).toBe('<b>x</b>')
  })
})
