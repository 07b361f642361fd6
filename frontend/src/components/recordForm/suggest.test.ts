import { describe, expect, it } from 'vitest'
import { defaultRecordName, fieldsForFile, fileProblem, limitText, suggestRecordType } from './suggest'

describe('record type suggestion', () => {
  it.each([
    ['Invoice-2024-03.pdf', 'bill'],
    ['hospital bill march.pdf', 'bill'],
    ['MyInvoice2024.pdf', 'bill'],
    ['pharmacy_receipt.jpg', 'bill'],
    ['rx_amoxicillin.pdf', 'prescription'],
    ['Prescription - Dr Lopez.pdf', 'prescription'],
    ['eprescription.png', 'prescription'],
    ['blood test results.pdf', 'report'],
    ['proxy-settings.pdf', 'report'], // "rx" only as a word
    ['IMG_2041.jpeg', 'report'],
    ['', 'report'],
  ])('%s -> %s', (name, type) => {
    expect(suggestRecordType(name)).toBe(type)
  })

  it('prefers bill when a name says both (a pharmacy invoice for a prescription)', () => {
    expect(suggestRecordType('prescription invoice.pdf')).toBe('bill')
  })
})

describe('names and limits', () => {
  it('names a record after its file', () => {
    expect(defaultRecordName('blood test.pdf')).toBe('blood test')
    expect(defaultRecordName('.hidden')).toBe('.hidden')
    expect(defaultRecordName(`${'a'.repeat(300)}.pdf`)).toHaveLength(200)
  })

  it('states the limit and refuses empty or too large files before signing', () => {
    expect(limitText(50 * 1024 * 1024)).toBe('Up to 50.0 MiB per file.')
    expect(limitText(undefined)).toBe('')
    expect(fileProblem({ size: 0 }, 100)).toBe('This file is empty.')
    expect(fileProblem({ size: 101 }, 100)).toMatch(/limit is 100 B/)
    expect(fileProblem({ size: 100 }, 100)).toBeNull()
    expect(fileProblem({ size: 5 }, null)).toBeNull()
  })
})

describe('fieldsForFile', () => {
  it('suggests the type from the file unless one was chosen, and fills the name unless typed', () => {
    expect(fieldsForFile('Invoice-March.pdf', { recordType: 'report', typeChosen: false, name: '' })).toEqual({ recordType: 'bill', name: 'Invoice-March' })
    expect(fieldsForFile('rx_2024.pdf', { recordType: 'report', typeChosen: true, name: '' })).toEqual({ recordType: 'report', name: 'rx_2024' })
    expect(fieldsForFile('rx_2024.pdf', { recordType: 'report', typeChosen: false, name: 'Amoxicillin' })).toEqual({ recordType: 'prescription', name: 'Amoxicillin' })
  })
})
