// Structured records (issue 16) in headless Chromium against the real stack (scripts/run_stack.py:
// Anvil, js-ipfs, SecantusDB, the API serving frontend/dist):
//   registrar registers doctor B (#4) -> the patient (#2) lets B add records -> B fills in a
//   prescription (the form's validation messages first), previews the card "what the patient will
//   see" and signs once -> B fills in a lab report with one result above its range (low/high checked),
//   previews it flagged, signs -> B fills in an invoice (total computed) and opens the report as a card -> the patient opens them as cards (dose, frequency, refills; the
//   out-of-range result flagged in words), the raw FHIR behind "Details" -> the patient exports
//   everything as healthledger-bundle.json, which validates with the backend's fhir.resources.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe } from 'node:test'
import { ARTIFACTS_DIR, DEV_ACCOUNTS, REPO_ROOT, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { grantWriteAccess, region, registerDoctor } from './lib/journeys.mjs'
import { CHAIN_TIMEOUT, tab, until, untilRefreshed } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const REGISTRAR = DEV_ACCOUNTS[0].address
const PATIENT = DEV_ACCOUNTS[2].address
const DOCTOR = DEV_ACCOUNTS[4].address
const NAME = 'Ben Writer'
const MEDICATION = 'Amoxicillin 500 mg capsule'
const REPORT = 'Complete blood count'

/** 30 days from now as yyyy-mm-dd (the prescription's last valid day). */
function inDays(days) {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10)
}

/** Preview the form, sign AddRecordAsDoctor and wait until it is stored (a refusal fails at once with its message). */
async function signAndSend(page) {
  await page.getByText('Fingerprint ready').waitFor()
  await page.getByRole('button', { name: /Sign AddRecordAsDoctor and send/ }).click()
  const added = page.getByRole('status').filter({ hasText: "Added to the patient's vault" })
  const refused = page.getByRole('alert').filter({ hasText: 'The record was not added' })
  await added.or(refused).waitFor({ timeout: CHAIN_TIMEOUT })
  assert.equal(await refused.count(), 0, `the upload was refused: ${(await refused.count()) ? await refused.innerText() : ''}`)
}

describe('browser scenario: a doctor fills in a prescription and a lab report; the patient sees the cards and exports FHIR', { timeout: 600_000 }, () => {
  const { step, arrive, users } = useStack('fhir')

  step('0. registrar registers the doctor; the patient lets them add records', async () => {
    const registrar = await arrive('registrar', REGISTRAR, 'registrar', 'Doctor registry')
    await registerDoctor(registrar.page, { address: DOCTOR, name: NAME, licence: 'GMC-1000002' })
    const { page } = await arrive('patient', PATIENT, 'patient', 'My records')
    await tab(page, 'Sharing')
    await grantWriteAccess(region(page, 'Write access'), { search: 'Ben', doctor: NAME, shortAddress: '0x15d3…6A65', days: 3 })
  })

  step('1. the doctor fills in a prescription (validation first), previews the card and signs once', async () => {
    const user = await arrive('doctor', DOCTOR, 'doctor', 'Find a patient')
    const { page } = user
    await tab(page, 'Add a record')
    await page.getByRole('heading', { name: 'Add a record' }).waitFor()
    await until('the patient to be chosen', async () => (await page.getByRole('combobox', { name: /^Patient/ }).inputValue()).toLowerCase() === PATIENT.toLowerCase())
    await page.getByRole('radio', { name: 'Prescription (form)' }).check()
    // Nothing filled in: the preview is refused, each missing field says what to enter.
    await page.getByRole('button', { name: 'Preview', exact: true }).click()
    await page.getByRole('alert').filter({ hasText: 'need attention before the preview' }).waitFor()
    await page.getByText('Enter the medication (name and strength).').waitFor()
    await page.getByText('Enter the dose.').waitFor()
    await page.getByLabel('Dose', { exact: true }).fill('-1')
    await page.getByText('The dose must be more than 0.').waitFor()
    await screenshot(page, 'fhir-01-prescription-errors')

    await page.getByLabel('Medication', { exact: true }).fill(MEDICATION)
    await page.getByLabel('Code (RxNorm, optional)').fill('308191')
    await page.getByLabel('Dose', { exact: true }).fill('500')
    await page.getByLabel('Dose unit').selectOption('mg')
    await page.getByLabel('Times', { exact: true }).fill('3')
    await page.getByLabel('For how many days (optional)').fill('7')
    await page.getByLabel('Valid until (optional)').fill(inDays(30))
    await page.getByLabel('Quantity to dispense').fill('21')
    await page.getByLabel('Quantity unit').selectOption('capsule')
    await page.getByLabel('Refills').fill('1')
    await page.getByRole('button', { name: 'Preview', exact: true }).click()
    const preview = page.getByRole('group', { name: 'Preview' })
    await preview.getByRole('heading', { name: 'What the patient will see' }).waitFor()
    const card = preview.locator('[data-fhir-kind="prescription"]')
    assert.match(await card.innerText(), new RegExp(`${MEDICATION}[\\s\\S]*500 mg[\\s\\S]*By mouth[\\s\\S]*3 times a day[\\s\\S]*7 days[\\s\\S]*21 capsule[\\s\\S]*Refills\\s*1`))
    assert.equal(await page.getByRole('textbox', { name: /^Name/ }).inputValue(), MEDICATION, 'the record is named after the medication')
    await screenshot(page, 'fhir-02-prescription-preview')
    const before = user.wallet.requests.length
    await signAndSend(page)
    const prompts = user.wallet.requests.slice(before).filter((r) => r.method === 'eth_signTypedData_v4').map((r) => JSON.parse(r.params[1]).primaryType)
    assert.deepEqual(prompts, ['AddRecordAsDoctor'], 'one wallet prompt')
  })

  step('2. the doctor fills in a lab report with a result above its range; the preview flags it', async () => {
    const { page } = users.doctor
    await page.getByRole('button', { name: 'Add another record' }).click()
    await page.getByRole('radio', { name: 'Result report (form)' }).check()
    await page.getByLabel('Report title').fill(REPORT)
    const first = page.getByRole('group', { name: 'Result 1' })
    await first.getByLabel('Name', { exact: true }).fill('Haemoglobin')
    await first.getByLabel('Value', { exact: true }).fill('19.5')
    await first.getByLabel('Unit', { exact: true }).fill('g/dL')
    await first.getByLabel('Range low').fill('16')
    await first.getByLabel('Range high').fill('12')
    await page.getByRole('button', { name: 'Add a result' }).click()
    const second = page.getByRole('group', { name: 'Result 2' })
    await second.getByLabel('Name', { exact: true }).fill('Platelets')
    await second.getByLabel('Value', { exact: true }).fill('250')
    await second.getByLabel('Unit', { exact: true }).fill('10*9/L')
    await second.getByLabel('Range low').fill('150')
    await second.getByLabel('Range high').fill('400')
    await page.getByRole('button', { name: 'Preview', exact: true }).click()
    await first.getByText('The high end must be above the low end.').waitFor()
    await first.getByLabel('Range low').fill('12')
    await first.getByLabel('Range high').fill('16')
    await first.getByText('Flag: High (above range), set automatically.').waitFor()
    await page.getByRole('button', { name: 'Preview', exact: true }).click()
    const preview = page.getByRole('group', { name: 'Preview' })
    await preview.getByText('1 result out of range').waitFor()
    await preview.getByText('High (above 16 g/dL)').waitFor()
    await preview.getByText('Normal (within range)').waitFor()
    await screenshot(page, 'fhir-03-report-preview')
    await signAndSend(page)
    assert.deepEqual(withoutApiNoise(users.doctor.problems), [])
  })

  step('2b. the doctor fills in an invoice: amounts and the total are computed to the cent', async () => {
    const { page } = users.doctor
    await page.getByRole('button', { name: 'Add another record' }).click()
    await page.getByRole('radio', { name: 'Invoice (form)' }).check()
    await page.getByLabel('Currency').selectOption('EUR')
    const first = page.getByRole('group', { name: 'Line 1' })
    await first.getByLabel('Description').fill('Consultation')
    await first.getByLabel('Unit price (EUR)').fill('120.50')
    await page.getByRole('button', { name: 'Add a line' }).click()
    const second = page.getByRole('group', { name: 'Line 2' })
    await second.getByLabel('Description').fill('Blood draw')
    await second.getByLabel('Quantity').fill('3')
    await second.getByLabel('Unit price (EUR)').fill('0.1')
    await page.getByText('Total: 120.80 EUR').waitFor()
    await page.getByRole('button', { name: 'Preview', exact: true }).click()
    const card = page.getByRole('group', { name: 'Preview' }).locator('[data-fhir-kind="invoice"]')
    assert.match(await card.innerText(), /Blood draw\s*3\s*0\.10\s*0\.30[\s\S]*Total\s*120\.80 EUR/)
    assert.match(await page.getByRole('textbox', { name: /^Name/ }).inputValue(), /^Invoice \d{4}-\d{2}-\d{2} \(120\.80 EUR\)$/)
    await signAndSend(page)
  })

  step('2c. the doctor opens the report they added: the same card, flagged', async () => {
    const { page } = users.doctor
    const mine = region(page, 'Records you added')
    const row = mine.getByRole('row').filter({ hasText: REPORT })
    await untilRefreshed('the report under "Records you added", confirmed', mine.getByRole('button', { name: 'Refresh' }),
      () => row.getByText(/^confirmed #\d+$/).count(), { timeout: CHAIN_TIMEOUT })
    await row.getByRole('button', { name: 'Open', exact: true }).click()
    const preview = page.getByRole('region', { name: REPORT })
    await preview.getByText('High (above 16 g/dL)').waitFor()
    await preview.getByText('⚠ 1 result out of range').waitFor()
  })

  step('3. the patient opens both as cards: the prescription, and the report with its flag in words; raw FHIR behind Details', async () => {
    const { page } = users.patient
    await tab(page, 'My records')
    const records = region(page, 'My records')
    for (const name of [MEDICATION, REPORT]) {
      await untilRefreshed(`"${name}" confirmed in the patient's records`, records.getByRole('button', { name: 'Refresh' }),
        () => records.getByRole('row').filter({ hasText: name }).getByText(/^confirmed #\d+$/).count(), { timeout: CHAIN_TIMEOUT })
    }
    await records.getByRole('row').filter({ hasText: MEDICATION }).getByRole('button', { name: 'Open', exact: true }).click()
    const rx = page.getByRole('region', { name: MEDICATION })
    await rx.getByText('✓ re-checked in your browser').waitFor()
    const rxCard = rx.locator('[data-fhir-kind="prescription"]')
    assert.match(await rxCard.innerText(), /How often\s*3 times a day/)
    assert.match(await rxCard.innerText(), /Quantity\s*21 capsule/)
    assert.match(await rxCard.innerText(), /Valid until/)
    assert.equal(await rx.locator('.fhir-json').isVisible(), false, 'the raw FHIR is hidden until Details is opened')
    await rx.getByText('Details (FHIR JSON)').click()
    assert.match(await rx.locator('.fhir-json').innerText(), /"resourceType": "MedicationRequest"/)
    await screenshot(page, 'fhir-04-patient-prescription')

    await records.getByRole('row').filter({ hasText: REPORT }).getByRole('button', { name: 'Open', exact: true }).click()
    const report = page.getByRole('region', { name: REPORT })
    await report.getByText('✓ matches the on-chain fingerprint').waitFor()
    const results = report.getByRole('list', { name: 'Results' }).getByRole('listitem')
    assert.equal(await results.count(), 2)
    const hb = results.filter({ hasText: 'Haemoglobin' })
    assert.match(await hb.innerText(), /19\.5 g\/dL[\s\S]*Reference range: 12–16 g\/dL[\s\S]*High \(above 16 g\/dL\)/)
    assert.match(await hb.getAttribute('class'), /out-of-range/)
    assert.match(await results.filter({ hasText: 'Platelets' }).innerText(), /Normal \(within range\)/)
    await report.getByText('⚠ 1 result out of range').waitFor()
    await screenshot(page, 'fhir-05-patient-report')

    const invoice = records.getByRole('row').filter({ hasText: 'Invoice 20' })
    await untilRefreshed('the invoice confirmed', records.getByRole('button', { name: 'Refresh' }), () => invoice.getByText(/^confirmed #\d+$/).count(), { timeout: CHAIN_TIMEOUT })
    await invoice.getByRole('button', { name: 'Open', exact: true }).click()
    const bill = page.locator('[data-fhir-kind="invoice"]')
    assert.match(await bill.innerText(), /Total\s*120\.80 EUR[\s\S]*Issued by\s*0x15d3…6A65/i)
  })

  step('4. the patient exports everything as healthledger-bundle.json, valid for fhir.resources', async () => {
    const { page } = users.patient
    const records = region(page, 'My records')
    const [download] = await Promise.all([page.waitForEvent('download'), records.getByRole('button', { name: 'Export (FHIR)' }).click()])
    assert.equal(download.suggestedFilename(), 'healthledger-bundle.json')
    mkdirSync(ARTIFACTS_DIR, { recursive: true })
    const saved = join(ARTIFACTS_DIR, 'fhir-healthledger-bundle.json')
    await download.saveAs(saved)
    await records.getByRole('status').filter({ hasText: 'Saved healthledger-bundle.json (3 records)' }).waitFor()
    const out = execFileSync(join(REPO_ROOT, '.venv', 'bin', 'python'), [join(REPO_ROOT, 'tests', 'browser', 'lib', 'validate_fhir_bundle.py'), saved], { encoding: 'utf8' })
    const summary = JSON.parse(out)
    console.log(`exported bundle: ${out.trim()}`)
    assert.equal(summary.type, 'collection')
    assert.deepEqual(summary.entries.map((e) => e.resourceType).sort(), ['DiagnosticReport', 'Invoice', 'MedicationRequest'])
    assert.deepEqual(summary.entries.find((e) => e.resourceType === 'DiagnosticReport').flags, ['H', 'N'])
    assert.deepEqual(withoutApiNoise(users.patient.problems), [])
  })
})
