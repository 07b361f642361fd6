/**
 * The audit trail as CSV, built in the browser from the rows on screen (nothing more is fetched,
 * nothing is sent anywhere).
 *
 * RFC 4180: fields separated by commas, records by CRLF; a field holding a comma, a double quote,
 * CR or LF is enclosed in double quotes and its quotes doubled. Spreadsheet formula injection
 * (OWASP "CSV injection"): a cell starting with = + - @ (or a tab or CR, which some spreadsheets
 * skip before reading a formula) gets a leading apostrophe, so Excel/LibreOffice/Sheets show it as
 * text instead of running it. Record names and a doctor's request reason are typed by other people.
 */
import { saveBlob } from '../../lib/download'
import type { AuditEvent } from '../../api/types'
import { actorOf, describeAuditText, recordsText, type Viewer } from './describe'

const FORMULA_START = /^[=+\-@\t\r]/

/** One cell, safe against formula injection and quoted per RFC 4180 where needed. */
export function csvCell(value: string | number | boolean | null | undefined): string {
  let cell = value === null || value === undefined ? '' : String(value)
  if (FORMULA_START.test(cell)) cell = `'${cell}`
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell
}

/** Rows (the first is the header) as one CSV document, CRLF after every record. */
export function toCsv(rows: readonly (readonly (string | number | boolean | null | undefined)[])[]): string {
  return rows.map((row) => row.map(csvCell).join(',') + '\r\n').join('')
}

/** The audit rows as a CSV table: when (ISO, UTC), who, what, records, kind, transaction. */
export function auditCsv(events: readonly AuditEvent[], viewer: Viewer = 'patient', now: Date = new Date()): string {
  const header = ['When (UTC)', ...(viewer === 'registrar' ? ['Patient'] : []), 'Who', 'What', 'Records', 'Event', 'Transaction']
  const rows = events.map((event) => [
    event.timestamp ?? '',
    ...(viewer === 'registrar' ? [event.patient] : []),
    actorOf(event, viewer),
    describeAuditText(event, viewer, now),
    recordsText(event),
    event.event,
    event.source === 'chain' ? event.tx_hash : '',
  ])
  return toCsv([header, ...rows])
}

/** "healthledger-audit-2026-11-30.csv" (the registrar's: "...-all-..."). */
export function csvFileName(viewer: Viewer, now: Date = new Date()): string {
  const day = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`
  return `healthledger-audit${viewer === 'registrar' ? '-all' : ''}-${day}.csv`
}

/** Offer `text` as a file download. */
export function downloadText(text: string, fileName: string, type = 'text/csv;charset=utf-8'): void {
  saveBlob(new Blob([text], { type }), fileName)
}
