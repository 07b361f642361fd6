// Amendments, version history and Bundle import in the web app (issue 16) in headless Chromium
// against the real stack (Anvil, js-ipfs, SecantusDB, the API serving frontend/dist):
//   the patient (#2) lets doctor B (#4) add records -> B fills in a prescription -> B amends it twice
//   from "Records you added" (the form prefilled from the current version; one signature each) ->
//   the patient sees three versions: two marked "superseded" linking to the current one, which shows
//   "Version 3 of 3" and a history of 3 -> the patient exports the Bundle -> a second patient (#3)
//   imports it (prepare, confirm, one AddRecord) and opens the imported prescription as a card.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe } from 'node:test'
import { ARTIFACTS_DIR, DEV_ACCOUNTS, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { grantWriteAccess, region, registerDoctor } from './lib/journeys.mjs'
import { CHAIN_TIMEOUT, tab, untilRefreshed } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const REGISTRAR = DEV_ACCOUNTS[0].address
const PATIENT = DEV_ACCOUNTS[2].address
const SECOND_PATIENT = DEV_ACCOUNTS[3].address
const DOCTOR = DEV_ACCOUNTS[4].address
const NAME = 'Ben Writer'
const MEDICATION = 'Amoxicillin 500 mg capsule'

/** Wait for the signed upload's outcome; a refusal fails at once with its message. */
async function outcome(page, success, failure) {
  const ok = page.getByRole('status').filter({ hasText: success })
  const refused = page.getByRole('alert').filter({ hasText: failure })
  await ok.or(refused).waitFor({ timeout: CHAIN_TIMEOUT })
  assert.equal(await refused.count(), 0, `refused: ${(await refused.count()) ? await refused.innerText() : ''}`)
}

/** "Records you added": refreshed until the current version (the one row offering Amend) is on chain; amend it to `dose` mg. */
async function amend(user, dose, expectedDose) {
  const { page } = user
  const mine = region(page, 'Records you added')
  const amendButton = mine.getByRole('button', { name: `Amend ${MEDICATION}` })
  await untilRefreshed('the current version offering Amend', mine.getByRole('button', { name: 'Refresh' }), async () => (await amendButton.count()) === 1, { timeout: CHAIN_TIMEOUT })
  await amendButton.click()
  const form = page.getByRole('region', { name: `Amend “${MEDICATION}”` })
  const doseField = form.getByLabel('Dose', { exact: true })
  await doseField.waitFor({ timeout: CHAIN_TIMEOUT })
  assert.equal(await form.getByLabel('Medication', { exact: true }).inputValue(), MEDICATION, 'prefilled from the current version')
  assert.equal(await doseField.inputValue(), expectedDose, 'the dose of the current version')
  await doseField.fill(dose)
  await form.getByRole('button', { name: 'Preview', exact: true }).click()
  await form.getByRole('heading', { name: 'What the patient will see' }).waitFor()
  await form.getByText('Fingerprint ready').waitFor()
  const before = user.wallet.requests.length
  await form.getByRole('button', { name: 'Sign and send the amendment' }).click()
  await outcome(page, /^Amended|Amendment sent/, 'The amendment was not added')
  const prompts = user.wallet.requests.slice(before).filter((r) => r.method === 'eth_signTypedData_v4').map((r) => JSON.parse(r.params[1]).primaryType)
  assert.deepEqual(prompts, ['AddRecordAsDoctor'], 'one wallet prompt per amendment')
  await form.getByRole('button', { name: 'Close' }).click()
}

describe('browser scenario: a doctor amends a prescription twice; the patient sees its history, exports it, and another patient imports it', { timeout: 600_000 }, () => {
  const { step, arrive, users } = useStack('fhir-history')

  step('0. the doctor is registered and may add records for the patient; they fill in a prescription', async () => {
    const registrar = await arrive('registrar', REGISTRAR, 'registrar', 'Doctor registry')
    await registerDoctor(registrar.page, { address: DOCTOR, name: NAME, licence: 'GMC-1000002' })
    const patient = await arrive('patient', PATIENT, 'patient', 'My records')
    await tab(patient.page, 'Sharing')
    await grantWriteAccess(region(patient.page, 'Write access'), { search: 'Ben', doctor: NAME, shortAddress: '0x15d3…6A65', days: 3 })

    const { page } = await arrive('doctor', DOCTOR, 'doctor', 'Find a patient')
    await tab(page, 'Add a record')
    await page.getByRole('radio', { name: 'Prescription (form)' }).check()
    await page.getByLabel('Medication', { exact: true }).fill(MEDICATION)
    await page.getByLabel('Dose', { exact: true }).fill('500')
    await page.getByLabel('Times', { exact: true }).fill('3')
    await page.getByLabel('Quantity to dispense').fill('21')
    await page.getByRole('button', { name: 'Preview', exact: true }).click()
    await page.getByText('Fingerprint ready').waitFor()
    await page.getByRole('button', { name: /Sign AddRecordAsDoctor and send/ }).click()
    await outcome(page, "Added to the patient's vault", 'The record was not added')
  })

  step('1. the doctor amends it twice from "Records you added": prefilled forms, one signature each', async () => {
    await amend(users.doctor, '250', '500')
    await amend(users.doctor, '125', '250')
    const mine = region(users.doctor.page, 'Records you added')
    await untilRefreshed('two versions marked superseded in the doctor\'s list', mine.getByRole('button', { name: 'Refresh' }),
      async () => (await mine.getByRole('row').filter({ hasText: MEDICATION }).filter({ hasText: 'superseded' }).count()) === 2, { timeout: CHAIN_TIMEOUT })
    await screenshot(users.doctor.page, 'fhir-history-01-doctor-list')
    assert.deepEqual(withoutApiNoise(users.doctor.problems), [])
  })

  step('2. the patient sees 3 versions: two superseded (in words) linking to the current one, "Version 3 of 3" with a history of 3', async () => {
    const { page } = users.patient
    await tab(page, 'My records')
    const records = region(page, 'My records')
    const rows = records.getByRole('row').filter({ hasText: MEDICATION })
    await untilRefreshed('3 versions, 2 superseded and the current one confirmed', records.getByRole('button', { name: 'Refresh' }), async () =>
      (await rows.count()) === 3 &&
      (await rows.filter({ hasText: 'superseded' }).count()) === 2 &&
      (await rows.filter({ hasNotText: 'superseded' }).getByText(/^confirmed #\d+$/).count()) === 1, { timeout: CHAIN_TIMEOUT })
    // A superseded version links to the current one.
    await rows.filter({ hasText: 'superseded' }).first().getByRole('button', { name: 'Open the current version' }).click()
    const opened = page.getByRole('region', { name: MEDICATION })
    await opened.getByText('Version 3 of 3').waitFor()
    assert.match(await opened.locator('[data-fhir-kind="prescription"]').innerText(), /125 mg/)
    await opened.getByText('History (3 versions)').click()
    const versions = opened.locator('.history-list > li')
    assert.equal(await versions.count(), 3)
    assert.match(await versions.nth(0).innerText(), /Version 3[\s\S]*current/)
    assert.match(await versions.nth(1).innerText(), /Version 2[\s\S]*superseded/)
    assert.match(await versions.nth(2).innerText(), /Version 1[\s\S]*superseded/)
    await screenshot(page, 'fhir-history-02-patient-history')
    // Opening the first version from the history shows it as such.
    await versions.nth(2).getByRole('button', { name: 'Open version 1' }).click()
    await opened.getByText('Version 1 of 3').waitFor()
    assert.match(await opened.locator('[data-fhir-kind="prescription"]').innerText(), /500 mg/)
  })

  step('3. the patient exports the Bundle; a second patient imports it and opens the prescription as a card', async () => {
    const { page } = users.patient
    const records = region(page, 'My records')
    const [download] = await Promise.all([page.waitForEvent('download'), records.getByRole('button', { name: 'Export (FHIR)' }).click()])
    mkdirSync(ARTIFACTS_DIR, { recursive: true })
    const saved = join(ARTIFACTS_DIR, 'fhir-history-bundle.json')
    await download.saveAs(saved)
    await records.getByRole('status').filter({ hasText: 'Saved healthledger-bundle.json (1 record)' }).waitFor()

    const second = await arrive('second', SECOND_PATIENT, 'patient', 'My records')
    const mine = region(second.page, 'My records')
    await mine.getByTestId('fhir-import-input').setInputFiles(saved)
    const plan = second.page.getByRole('region', { name: 'Import from fhir-history-bundle.json' })
    const listed = plan.getByRole('list', { name: 'Records to import' }).getByRole('listitem')
    await listed.first().waitFor()
    assert.equal(await listed.count(), 1)
    assert.match(await listed.first().innerText(), new RegExp(`Prescription: ${MEDICATION}`))
    await screenshot(second.page, 'fhir-history-03-import-plan')
    const before = second.wallet.requests.length
    await plan.getByRole('button', { name: 'Import 1 record' }).click()
    await plan.getByText('Imported 1 of 1 record.').waitFor({ timeout: CHAIN_TIMEOUT })
    const prompts = second.wallet.requests.slice(before).filter((r) => r.method === 'eth_signTypedData_v4').map((r) => JSON.parse(r.params[1]).primaryType)
    assert.deepEqual(prompts, ['AddRecord'], 'one AddRecord per imported record')
    const row = mine.getByRole('row').filter({ hasText: MEDICATION })
    await untilRefreshed('the imported record confirmed', mine.getByRole('button', { name: 'Refresh' }), () => row.getByText(/^confirmed #\d+$/).count(), { timeout: CHAIN_TIMEOUT })
    await row.getByRole('button', { name: /^Open/ }).click()
    const card = second.page.getByRole('region', { name: MEDICATION }).locator('[data-fhir-kind="prescription"]')
    assert.match(await card.innerText(), /125 mg[\s\S]*3 times a day/)
    assert.deepEqual(withoutApiNoise(second.problems), [])
  })
})
