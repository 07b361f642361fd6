import { describe, expect, it } from 'vitest'
import type { ImportRecord, MedicalRecord } from '../../api/types'
import { importFile, importRecords, type ImportOutcome } from './importBundle'

const b64 = (text: string) => btoa(text)

function prepared(index: number, name: string): ImportRecord {
  return {
    index,
    fullUrl: null,
    resourceType: 'MedicationRequest',
    recordType: 'prescription',
    name,
    contentType: 'application/fhir+json',
    size: 2,
    sha256: '0x',
    content: b64(`{"n":${index}}`),
  }
}

const mined = (cid: string) => ({ cid, state: 'confirmed', record_id: 1 }) as unknown as MedicalRecord
const pending = (cid: string) => ({ cid, state: 'pending', record_id: null }) as unknown as MedicalRecord

function harness(fail: Record<number, unknown> = {}, statuses: Record<number, number> = {}) {
  const log: string[] = []
  const outcomes = new Map<number, ImportOutcome>()
  let nonce = 7
  let call = 0
  const deps = {
    hash: async (file: File) => {
      log.push(`hash ${await file.text()}`)
      return { contentHash: `0x${'a'.repeat(64)}` as const, salt: `0x${'b'.repeat(64)}` as const }
    },
    sign: async () => {
      const index = call++
      if (fail[index]) throw fail[index]
      log.push(`sign ${nonce}`)
      return { signature: '0xsig', nonce: nonce, deadline: 99 }
    },
    upload: async (fields: { nonce: number; name: string; fileName: string }) => {
      log.push(`upload ${fields.name} ${fields.fileName} nonce ${fields.nonce}`)
      const status = statuses[fields.nonce] ?? 201
      const cid = `cid${fields.nonce}`
      nonce++ // the record landed: the vault's nonce moves
      return { status, body: status === 202 ? pending(cid) : mined(cid) }
    },
    waitOnChain: async (cid: string) => {
      log.push(`wait ${cid}`)
      return mined(cid)
    },
    onChange: (index: number, outcome: ImportOutcome) => outcomes.set(index, outcome),
  }
  return { deps, log, outcomes }
}

describe('importRecords', () => {
  it('signs and uploads each record in order, one signature each, with consecutive nonces', async () => {
    const { deps, log, outcomes } = harness({}, { 8: 202 })
    const done = await importRecords([prepared(0, 'Amoxicillin'), prepared(1, 'CBC'), prepared(2, 'Invoice')], deps)
    expect(done).toBe(3)
    expect(log).toEqual([
      'hash {"n":0}',
      'sign 7',
      'upload Amoxicillin Amoxicillin.fhir.json nonce 7',
      'hash {"n":1}',
      'sign 8',
      'upload CBC CBC.fhir.json nonce 8',
      'wait cid8',
      'hash {"n":2}',
      'sign 9',
      'upload Invoice Invoice.fhir.json nonce 9',
    ])
    expect([...outcomes.values()].map((o) => o.state)).toEqual(['done', 'done', 'done'])
  })

  it('reports a refused record and imports the rest', async () => {
    const { deps, outcomes } = harness({ 1: new Error('refused') })
    expect(await importRecords([prepared(0, 'a'), prepared(1, 'b'), prepared(2, 'c')], deps)).toBe(2)
    expect(outcomes.get(1)).toMatchObject({ state: 'failed' })
    expect(outcomes.get(2)?.state).toBe('done')
  })

  it('stops when the patient declines a signature', async () => {
    const { deps, outcomes } = harness({ 0: { code: 4001, message: 'User rejected' } })
    expect(await importRecords([prepared(0, 'a'), prepared(1, 'b')], deps)).toBe(0)
    expect(outcomes.get(0)?.state).toBe('failed')
    expect(outcomes.get(1)?.state).toBe('waiting')
  })
})

describe('importFile', () => {
  it('decodes the exact bytes with the content type', async () => {
    const file = importFile({ content: b64('%PDF-1.4'), contentType: 'application/pdf', name: 'scan.pdf', resourceType: 'DocumentReference' })
    expect(file.name).toBe('scan.pdf')
    expect(file.type).toBe('application/pdf')
    expect(await file.text()).toBe('%PDF-1.4')
  })
})
