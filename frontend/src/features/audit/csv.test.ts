import { describe, expect, it } from 'vitest'
import { auditCsv, csvCell, csvFileName, toCsv } from './csv'
import { NOW, chain, view } from './testEvents'

describe('CSV cells (RFC 4180)', () => {
  it('leaves plain cells alone and quotes commas, quotes and line breaks', () => {
    expect(csvCell('Blood test')).toBe('Blood test')
    expect(csvCell('a,b')).toBe('"a,b"')
    expect(csvCell('say "hi"')).toBe('"say ""hi"""')
    expect(csvCell('two\nlines')).toBe('"two\nlines"')
    expect(csvCell('cr\rhere')).toBe('"cr\rhere"')
    expect(csvCell(null)).toBe('')
    expect(csvCell(42)).toBe('42')
  })

  it('defuses spreadsheet formulas: = + - @ (and tab, CR) get a leading apostrophe', () => {
    expect(csvCell('=HYPERLINK("http://evil","x")')).toBe(`"'=HYPERLINK(""http://evil"",""x"")"`)
    expect(csvCell('+1')).toBe("'+1")
    expect(csvCell('-2+3')).toBe("'-2+3")
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)")
    expect(csvCell('\t=1')).toBe("'\t=1")
    expect(csvCell('a=1')).toBe('a=1')
  })

  it('ends every record with CRLF', () => {
    expect(toCsv([['a', 'b'], ['1', 'x,y']])).toBe('a,b\r\n1,"x,y"\r\n')
  })
})

describe('the audit trail as CSV', () => {
  it('has a header and one sentence row per entry, record names typed by people defused', () => {
    const rows = [
      view({ record_names: [{ record_id: 0, name: '=cmd|calc' }] }),
      chain('access_denied', { details: { doctor_name: 'Maria Lopez' }, tx_hash: '0xabc' }),
    ]
    const lines = auditCsv(rows, 'patient', NOW).split('\r\n')
    expect(lines[0]).toBe('When (UTC),Who,What,Records,Event,Transaction')
    expect(lines[1]).toBe("2026-11-29T12:00:00+00:00,Dr Maria Lopez,Dr Maria Lopez viewed =cmd|calc,'=cmd|calc,RecordViewed,")
    expect(lines[2]).toBe('2026-11-29T12:00:00+00:00,You,You declined the request of Dr Maria Lopez,,access_denied,0xabc')
    expect(lines[3]).toBe('')
    expect(lines).toHaveLength(4)
  })

  it("adds the patient's address for the registrar", () => {
    const [header, row] = auditCsv([chain('access_denied')], 'registrar', NOW).split('\r\n')
    expect(header).toBe('When (UTC),Patient,Who,What,Records,Event,Transaction')
    expect(row).toContain(',0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC,Patient 0x3C44…93BC,The patient declined')
  })

  it('names the file by day', () => {
    expect(csvFileName('patient', new Date(2026, 10, 30))).toBe('healthledger-audit-2026-11-30.csv')
    expect(csvFileName('registrar', new Date(2026, 0, 5))).toBe('healthledger-audit-all-2026-01-05.csv')
  })
})
