/**
 * What the record forms (the patient's upload, the doctor's "Add a record") guess and states before anything is signed: the record type suggested
 * by a file's name (editable), the name a record gets by default, and the limits in words.
 */
import type { RecordType } from '../../api/types'
import { formatBytes } from '../../lib/format'

// Whole words (split on anything not a letter or digit), so "rx" matches "rx_2024.pdf" but not "proxy.pdf".
const BILL_WORDS = new Set(['bill', 'bills', 'billing', 'invoice', 'invoices', 'receipt', 'receipts', 'statement', 'eob', 'payment'])
const PRESCRIPTION_WORDS = new Set(['rx', 'prescription', 'prescriptions', 'prescribed', 'script', 'medication', 'medications', 'pharmacy'])
// Inside a longer word ("MyInvoice2024", "eprescription"): only the unambiguous stems.
const BILL_STEMS = ['invoice', 'billing', 'receipt']
const PRESCRIPTION_STEMS = ['prescription', 'prescri']

/** The record type a file's name suggests: bill, prescription, else report. */
export function suggestRecordType(fileName: string): RecordType {
  const base = fileName.toLowerCase().replace(/\.[a-z0-9]{1,5}$/, '')
  const words = base.split(/[^a-z0-9]+/).filter(Boolean)
  if (words.some((w) => BILL_WORDS.has(w)) || BILL_STEMS.some((s) => base.includes(s))) return 'bill'
  if (words.some((w) => PRESCRIPTION_WORDS.has(w)) || PRESCRIPTION_STEMS.some((s) => base.includes(s))) return 'prescription'
  return 'report'
}

/** A record's default name: the file name without its extension, at most 200 characters. */
export function defaultRecordName(fileName: string): string {
  const dot = fileName.lastIndexOf('.')
  return (dot > 0 ? fileName.slice(0, dot) : fileName).slice(0, 200)
}

/** Types the app previews (the server sends the rest as downloads). */
export const PREVIEW_TYPES_TEXT = 'PDF, PNG and JPEG open in the app; any other type is stored and downloads as is'

/** "Up to 50.0 MiB per file." (null limit: the server did not say). */
export function limitText(maxBytes: number | null | undefined): string {
  return maxBytes ? `Up to ${formatBytes(maxBytes)} per file.` : ''
}

/** Why a file cannot be uploaded before anything is signed, or null. */
export function fileProblem(file: { size: number }, maxBytes: number | null | undefined): string | null {
  if (file.size === 0) return 'This file is empty.'
  if (maxBytes && file.size > maxBytes) return `This file is ${formatBytes(file.size)}; the limit is ${formatBytes(maxBytes)}.`
  return null
}

/** What a newly picked file fills in: the suggested type (unless the person chose one) and a name (unless typed). */
export function fieldsForFile(fileName: string, current: { recordType: RecordType; typeChosen: boolean; name: string }): { recordType: RecordType; name: string } {
  return {
    recordType: current.typeChosen ? current.recordType : suggestRecordType(fileName),
    name: current.name.trim() ? current.name : defaultRecordName(fileName),
  }
}
