// Sharing that adds up, in headless Chromium against the real stack (scripts/run_stack.py: Anvil,
// js-ipfs, SecantusDB, the API serving frontend/dist):
//   registrar (#0) registers a doctor (#3) -> the patient (#2) uploads two records -> the doctor asks,
//   the patient shares record 1 for 5 days -> the doctor asks again (for record 2) -> the request card
//   shows record 1 as already shared (ticked, locked), the summary names both records and the later
//   end -> approving with the default ("Add to what … can already see") keeps both: the Sharing card
//   lists both and the doctor opens both, then exports them as one FHIR Bundle file -> revoking
//   record 1 asks first in a dialog (focus on Cancel): Escape keeps it, confirming revokes it -> the
//   registrar's Unregister asks first too.
// Issue 14's defect was that the second approval replaced the first (the chain replaces a doctor's
// grant with the signed set and duration): step 3 fails on that code (record 1 is gone).
// Screenshots land in test-artifacts/browser/sharing-*.png.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe } from 'node:test'
import { ARTIFACTS_DIR, DEV_ACCOUNTS, REPO_ROOT, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { keyIsSetUp, recordsConfirmed, region, registerDoctor, requestAccess, requestCard, sharedRecordRow, unlockIfAsked, uploadRecords } from './lib/journeys.mjs'
import { CHAIN_TIMEOUT, tab, until, untilRefreshed } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const REGISTRAR = DEV_ACCOUNTS[0].address
const DOCTOR = DEV_ACCOUNTS[3].address
const DOCTOR_NAME = 'Dr. Sam Share'
const PATIENT = DEV_ACCOUNTS[2].address
const STAMP = Date.now()
const FIRST = `Amoxicillin prescription ${STAMP}`
const SECOND = `Invoice March ${STAMP}`
const REASON_1 = 'Please share your prescription.'
const REASON_2 = 'Please also share the March invoice.'

describe('browser: a second approval adds to what is shared; revoking asks first', { timeout: 600_000 }, () => {
  const { step, arrive, users } = useStack('sharing', { onArrive: keyIsSetUp })

  /** The doctor asks the patient for access with `reason`. */
  async function doctorAsks(reason) {
    const { page } = users.doctor
    await tab(page, 'Find patient')
    await requestAccess(page, { patient: PATIENT, reason, button: /Sign access request to 0x3C44…93BC/, lastStatus: true })
  }

  /** The patient's card for the request with `reason`, once it is listed. */
  async function requestCardUnlocked(reason) {
    const card = await requestCard(users.patient.page, reason, { what: `the request "${reason}"` })
    await unlockIfAsked(card)
    return card
  }

  step('0. registrar registers the doctor', async () => {
    const { page } = await arrive('registrar', REGISTRAR, 'registrar', 'Doctor registry')
    await registerDoctor(page, { address: DOCTOR, name: DOCTOR_NAME, licence: 'GMC-5550002' })
  })

  step('1. the patient uploads two records', async () => {
    const { page } = await arrive('patient', PATIENT, 'patient', 'My records')
    await uploadRecords(page, [FIRST, SECOND].map((name) => ({ name, fileName: 'record.txt', buffer: Buffer.from(`${name}\n`) })))
    await recordsConfirmed(page, [FIRST, SECOND])
  })

  step('2. the doctor asks; the patient shares record 1 for 5 days (nothing shared yet: no choice to make)', async () => {
    await arrive('doctor', DOCTOR, 'doctor', 'Find a patient')
    await doctorAsks(REASON_1)
    const card = await requestCardUnlocked(REASON_1)
    assert.match(await card.getByRole('group', { name: `Already shared with ${DOCTOR_NAME}` }).innerText(), /nothing to read right now/)
    assert.equal(await card.getByRole('radio').count(), 0, 'add or replace is asked only when something is shared')
    await card.getByRole('checkbox', { name: new RegExp(FIRST) }).check()
    await card.getByLabel('For how many days').fill('5')
    assert.match(await card.locator('.share-summary').innerText(), new RegExp(`^${DOCTOR_NAME} will be able to read: ${FIRST}, until .+\\.$`))
    await card.getByRole('button', { name: 'Sign approval (1 record(s), 5 day(s))' }).click()
    await users.patient.page.getByRole('status').filter({ hasText: 'Approved 1 record(s) for 5 day(s).' }).first().waitFor({ timeout: CHAIN_TIMEOUT })
  })

  step('3. the doctor asks again for record 2: the card shows record 1 as shared, and the default keeps it', async () => {
    await doctorAsks(REASON_2)
    const { page } = users.patient
    const card = await requestCardUnlocked(REASON_2)
    const already = card.getByRole('group', { name: `Already shared with ${DOCTOR_NAME}` })
    await already.getByText(new RegExp(`read ${FIRST} until `)).waitFor()
    // Add (the default) is chosen; record 1 is ticked and cannot be unticked in this mode.
    assert.ok(await card.getByRole('radio', { name: new RegExp(`^Add to what ${DOCTOR_NAME} can already see`) }).isChecked())
    const first = card.getByRole('checkbox', { name: new RegExp(FIRST) })
    assert.ok(await first.isChecked())
    assert.ok(await first.isDisabled())
    await card.getByRole('checkbox', { name: new RegExp(SECOND) }).check()
    await card.getByLabel('For how many days').fill('1') // shorter than what is left of the first grant
    const summary = card.locator('.share-summary')
    assert.match(await summary.innerText(), new RegExp(`^${DOCTOR_NAME} will be able to read: ${FIRST}, ${SECOND}, until .+\\.$`))
    // "Replace with only these" says what it takes away, then back to the default.
    await card.getByRole('radio', { name: /^Replace with only these/ }).check()
    await until('the summary of a replacement', async () => /No longer shared: .*This ends access earlier/.test(await summary.innerText()))
    assert.match(await summary.innerText(), new RegExp(`^${DOCTOR_NAME} will be able to read: ${SECOND}, until .+\\. No longer shared: ${FIRST}\\.`))
    await card.getByRole('radio', { name: /^Add to what/ }).check()
    await screenshot(page, 'sharing-01-second-request-adds')
    // Two records until the first grant's end (about 5 days), not 1 day.
    await card.getByRole('button', { name: /^Sign approval \(2 record\(s\), until / }).click()
    await page.getByRole('status').filter({ hasText: /Approved 2 record\(s\) until / }).first().waitFor({ timeout: CHAIN_TIMEOUT })

    await tab(page, 'Sharing')
    const grant = page.getByRole('article', { name: `Shared with ${DOCTOR_NAME}` })
    await untilRefreshed('the grant with both records', region(page, 'Sharing').getByRole('button', { name: 'Refresh' }), async () =>
      (await grant.getByRole('row').filter({ hasText: FIRST }).count()) + (await grant.getByRole('row').filter({ hasText: SECOND }).count()) === 2,
    )
    // The end stayed about 5 days away (the Countdown shows "4 d 23 h left").
    assert.match(await grant.innerText(), /\b4 d 2\d h left/)
    await screenshot(page, 'sharing-02-both-shared')
  })

  step('4. the doctor opens both records', async () => {
    const { page } = users.doctor
    await tab(page, 'Authorized records')
    for (const name of [FIRST, SECOND]) {
      const row = await sharedRecordRow(page, name, `${name} in the doctor's list`)
      await row.getByRole('button', { name: 'Open', exact: true }).click()
      const preview = page.getByRole('region', { name, exact: true })
      await preview.getByText('Verified against the chain.').waitFor({ timeout: CHAIN_TIMEOUT })
      await page.keyboard.press('Escape')
      await until(`the preview of ${name} to close`, async () => (await preview.count()) === 0)
    }
    assert.deepEqual(withoutApiNoise(users.doctor.problems), [])
  })

  step('4b. the doctor exports what the patient shares: one FHIR Bundle file with both records, valid for fhir.resources', async () => {
    const { page } = users.doctor
    const list = region(page, 'Authorized records')
    const fileName = `healthledger-shared-${PATIENT.toLowerCase().slice(0, 10)}.json`
    const [download] = await Promise.all([page.waitForEvent('download'), list.getByRole('button', { name: 'Export shared (FHIR)' }).click()])
    assert.equal(download.suggestedFilename(), fileName)
    mkdirSync(ARTIFACTS_DIR, { recursive: true })
    const saved = join(ARTIFACTS_DIR, `sharing-${fileName}`)
    await download.saveAs(saved)
    await list.getByRole('status').filter({ hasText: `Saved ${fileName} (2 records)` }).waitFor()
    const validator = join(REPO_ROOT, 'tests', 'browser', 'lib', 'validate_fhir_bundle.py')
    const summary = JSON.parse(execFileSync(join(REPO_ROOT, '.venv', 'bin', 'python'), [validator, saved], { encoding: 'utf8' }))
    assert.equal(summary.type, 'collection')
    assert.equal(summary.entries.length, 2)
    assert.deepEqual(withoutApiNoise(users.doctor.problems), [])
  })

  step('5. revoking record 1 asks first: Escape keeps it, confirming revokes it', async () => {
    const { page } = users.patient
    const grant = page.getByRole('article', { name: `Shared with ${DOCTOR_NAME}` })
    const revoke = grant.getByRole('button', { name: new RegExp(`^Revoke record \\d+ \\(${FIRST}\\)$`) })
    await revoke.click()
    const dialog = page.getByRole('dialog', { name: `Stop sharing ${FIRST} with ${DOCTOR_NAME}?` })
    await dialog.waitFor()
    assert.match(await dialog.innerText(), new RegExp(`The other 1 shared record\\(s\\) stay shared`))
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel', 'the focus is on the safe button')
    await screenshot(page, 'sharing-03-revoke-confirmation')
    await page.keyboard.press('Escape')
    await dialog.waitFor({ state: 'hidden' })
    assert.equal(await grant.getByRole('row').filter({ hasText: FIRST }).count(), 1, 'cancelled: still shared')

    await revoke.click()
    await dialog.waitFor()
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click()
    await dialog.waitFor({ state: 'hidden' })
    assert.equal(await grant.getByRole('row').filter({ hasText: FIRST }).count(), 1, 'cancelled again: still shared')

    await revoke.click()
    await dialog.getByRole('button', { name: `Revoke ${FIRST}`, exact: true }).click()
    await page.getByRole('status').filter({ hasText: new RegExp(`Access to record \\d+ revoked for ${DOCTOR_NAME}\\.`) }).waitFor({ timeout: CHAIN_TIMEOUT })
    await until('record 1 to leave the grant', async () => (await grant.getByRole('row').filter({ hasText: FIRST }).count()) === 0, { timeout: CHAIN_TIMEOUT })
    assert.equal(await grant.getByRole('row').filter({ hasText: SECOND }).count(), 1, 'record 2 stays shared')
    assert.deepEqual(withoutApiNoise(users.patient.problems), [])
  })

  step('6. unregistering a doctor asks first and says what happens: Escape keeps them, confirming removes them', async () => {
    const { page } = users.registrar
    await page.getByLabel('Find registered doctors').fill('Sam Share')
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    const item = page.getByRole('listitem').filter({ hasText: DOCTOR_NAME })
    await item.waitFor()
    await item.getByRole('button', { name: 'Unregister', exact: true }).click()
    const dialog = page.getByRole('dialog', { name: `Unregister ${DOCTOR_NAME}?` })
    await dialog.waitFor()
    assert.match(await dialog.innerText(), /can no longer ask patients for access, and every record patients shared with them/)
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel')
    await screenshot(page, 'sharing-04-unregister-confirmation')
    await page.keyboard.press('Escape')
    await dialog.waitFor({ state: 'hidden' })
    assert.equal(await page.getByRole('status').filter({ hasText: `Doctor ${DOCTOR} removed.` }).count(), 0, 'cancelled: nothing sent')

    await item.getByRole('button', { name: 'Unregister', exact: true }).click()
    await dialog.getByRole('button', { name: 'Unregister', exact: true }).click()
    await page.getByRole('status').filter({ hasText: `Doctor ${DOCTOR} removed.` }).waitFor({ timeout: CHAIN_TIMEOUT })
    assert.deepEqual(withoutApiNoise(users.registrar.problems), [])
  })
})
