// A readable history in headless Chromium against the real stack (scripts/run_stack.py: Anvil,
// js-ipfs, SecantusDB, the API serving frontend/dist), with BLOCK_EXPLORER_URL set:
//   registrar (#0) registers "Maria Lopez" (#3) -> the patient (#2) uploads a prescription -> the
//   doctor asks for access -> the patient shares it -> the doctor opens it twice -> the patient's
//   records list says "viewed 2×, last <day>", the audit trail reads in sentences with names
//   ("Dr Maria Lopez viewed <record>", "You shared <record> with Dr Maria Lopez until ..."), filters
//   by kind and person, links transactions to the explorer and downloads the filtered rows as CSV
//   -> the registrar's trail names the doctor but never the record.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe } from 'node:test'
import { DEV_ACCOUNTS, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { approveOne, region, registerDoctor, requestAccess, requestCard, sharedRecordRow, uploadRecords } from './lib/journeys.mjs'
import { CHAIN_TIMEOUT, tab, until, untilRefreshed } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const REGISTRAR = DEV_ACCOUNTS[0].address
const PATIENT = DEV_ACCOUNTS[2].address
const DOCTOR = DEV_ACCOUNTS[3].address
const DOCTOR_NAME = 'Maria Lopez'
const RX_NAME = `Amoxicillin prescription ${Date.now()}`
const REASON = 'Checking your antibiotics before the operation.'
const EXPLORER = 'https://explorer.example'

describe('browser: the audit trail reads as sentences with names, filters, links and exports CSV', { timeout: 600_000 }, () => {
  const { step, arrive, users } = useStack('audit', { env: { BLOCK_EXPLORER_URL: EXPLORER } })

  step('0. registrar registers Dr Maria Lopez', async () => {
    const { page } = await arrive('registrar', REGISTRAR, 'registrar', 'Doctor registry')
    await registerDoctor(page, { address: DOCTOR, name: DOCTOR_NAME, licence: 'GMC-2000001' })
  })

  step('1. the patient uploads a prescription; the doctor asks for access; the patient shares it', async () => {
    const { page } = await arrive('patient', PATIENT, 'patient', 'My records')
    // Each chosen file has its own type (suggested from its name): set it explicitly anyway.
    await uploadRecords(page, [{ name: RX_NAME, fileName: 'rx.txt', buffer: Buffer.from(`Amoxicillin 500 mg\n${new Date().toISOString()}\n`), type: 'prescription' }])

    const d = (await arrive('doctor', DOCTOR, 'doctor', 'Find a patient')).page
    await requestAccess(d, { patient: PATIENT, reason: REASON, button: /Sign access request to 0x3C44…93BC/ })

    const card = await requestCard(page, REASON, { what: 'the access request to appear', timeout: CHAIN_TIMEOUT })
    await approveOne(page, card, { record: RX_NAME, days: 1 })
  })

  step('2. the doctor opens the prescription twice; the patient\'s list says "viewed 2×, last <day>"', async () => {
    const d = users.doctor.page
    await tab(d, 'Authorized records')
    const row = await sharedRecordRow(d, RX_NAME)
    for (let i = 0; i < 2; i++) {
      await row.getByRole('button', { name: 'Open' }).click()
      await d.getByRole('status').filter({ hasText: RX_NAME }).getByText('Verified against the chain.').waitFor()
    }

    const { page } = users.patient
    await tab(page, 'My records')
    const mine = page.getByRole('row').filter({ hasText: RX_NAME })
    // The counts load when the list mounts: come back to the tab until they show.
    await until('"viewed 2×" on the shared record', async () => {
      if (await mine.getByText(/^viewed 2×, last \w+ \d+/).count()) return true
      await tab(page, 'Upload')
      await tab(page, 'My records')
      return false
    }, { timeout: CHAIN_TIMEOUT, interval: 1000 })
    await screenshot(page, 'audit-01-patient-records-viewed')
  })

  step('3. the patient reads the trail as sentences, filters it, follows explorer links and downloads the CSV', async () => {
    const { page } = users.patient
    await tab(page, 'Audit trail')
    const card = region(page, 'Audit trail')
    const table = card.getByRole('table')
    const sentences = [
      new RegExp(`Dr Maria Lopez viewed ${RX_NAME}`),
      new RegExp(`You shared ${RX_NAME} with Dr Maria Lopez until `),
      new RegExp(`You added ${RX_NAME} \\(prescription\\)`),
      /Dr Maria Lopez asked for access: “Checking your antibiotics/,
    ]
    await untilRefreshed('the trail to tell every step', card.getByRole('button', { name: 'Refresh' }), async () => {
      const text = (await table.count()) ? await table.innerText() : ''
      return sentences.every((re) => re.test(text)) && (text.match(/Dr Maria Lopez viewed/g) ?? []).length === 2
    }, { timeout: CHAIN_TIMEOUT })
    // The record name is emphasised in the sentence.
    assert.equal(await table.locator('em', { hasText: RX_NAME }).first().isVisible(), true)
    await screenshot(page, 'audit-02-patient-trail')

    // Chain entries link to the configured explorer; views (off chain) have no transaction.
    const links = table.getByRole('link', { name: /in the block explorer/ })
    assert.ok((await links.count()) >= 3, 'upload, request and approval link their transactions')
    for (const href of await links.evaluateAll((as) => as.map((a) => a.getAttribute('href')))) {
      assert.match(href, new RegExp(`^${EXPLORER}/tx/0x[0-9a-f]{64}$`))
    }

    // Kind "Views": only the two views, sentences intact.
    await card.getByRole('combobox', { name: 'Kind' }).selectOption({ label: 'Views' })
    await until('two rows after filtering', async () => (await table.getByRole('row').count()) === 3)
    assert.match(await card.getByText(/Showing 2 of \d+ entries/).innerText(), /Showing 2 of/)
    await screenshot(page, 'audit-03-patient-trail-views')

    // The CSV holds exactly the filtered rows, quoted per RFC 4180.
    const [download] = await Promise.all([page.waitForEvent('download'), card.getByRole('button', { name: 'Download CSV (2)' }).click()])
    assert.match(download.suggestedFilename(), /^healthledger-audit-\d{4}-\d{2}-\d{2}\.csv$/)
    const csv = readFileSync(await download.path(), 'utf8')
    const lines = csv.split('\r\n')
    assert.equal(lines[0], 'When (UTC),Who,What,Records,Event,Transaction')
    assert.equal(lines.length, 4, csv)
    for (const line of lines.slice(1, 3)) {
      assert.match(line, new RegExp(`,Dr Maria Lopez,Dr Maria Lopez viewed ${RX_NAME},${RX_NAME},RecordViewed,$`))
    }

    // Who "You" with kind "Sharing": the approval only.
    await card.getByRole('combobox', { name: 'Who' }).selectOption({ label: 'You' })
    await card.getByRole('combobox', { name: 'Kind' }).selectOption({ label: 'Sharing' })
    await until('one row for the approval', async () => (await table.getByRole('row').count()) === 2)
    assert.match(await table.innerText(), new RegExp(`You shared ${RX_NAME} with Dr Maria Lopez until`))
    await card.getByRole('button', { name: 'Clear filters' }).click()
    await until('every row back', async () => (await table.getByRole('row').count()) >= 6)
    assert.deepEqual(withoutApiNoise(users.patient.problems), [])
  })

  step("4. the registrar's trail names the doctor but not the record", async () => {
    const { page } = users.registrar
    await tab(page, 'Audit trail')
    const card = region(page, 'Audit trail (all patients)')
    const table = card.getByRole('table')
    await untilRefreshed("the views in the registrar's trail", card.getByRole('button', { name: 'Refresh' }), async () => {
      const text = (await table.count()) ? await table.innerText() : ''
      return (text.match(/Dr Maria Lopez viewed record #\d+/g) ?? []).length === 2
    }, { timeout: CHAIN_TIMEOUT })
    const text = await table.innerText()
    assert.match(text, /The patient shared record #\d+ with Dr Maria Lopez until/)
    assert.doesNotMatch(text, /Amoxicillin/, 'a record name never reaches the registrar')
    await screenshot(page, 'audit-04-registrar-trail')
    assert.deepEqual(withoutApiNoise(users.registrar.problems), [])
  })
})
