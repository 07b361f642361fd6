// Issue 14's five defects, driven again on the current app to produce the "after" screenshots
// (test-artifacts/browser/defect-<n>-<slug>-after.png; copies of one run are kept in
// docs/screenshots/defects/ next to the "before" shots taken on 8050c93). Real stack
// (scripts/run_stack.py: Anvil, js-ipfs, SecantusDB, the API serving frontend/dist), the harness's
// injected wallet, one profile per role:
//   registrar (#0) registers Dr. Maria Lopez (#3) -> the patient (#2) uploads a prescription, an
//   invoice and a two-page PDF ->
//   2. the PDF preview is drawn (non-white canvas pixels) ->
//   3. an upload held on its way to the server: the button is past "Waiting for your wallet…" and the
//      bar is inside the 1280x900 window ->
//   5. a tab change and back keeps that upload's progress; the same file chosen again is warned about ->
//   1. the doctor asks twice: the second request card lists what is already shared, and approving the
//      invoice keeps the prescription in the doctor's list ->
//   4. at 390 px neither the patient's records nor the doctor's shared records scroll sideways.
// The other browser tests (sharing, preview, uploads, screens) check each fix in depth; this file
// keeps to one screenshot-worthy situation per defect.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { describe } from 'node:test'
import { makePdf } from './lib/files.mjs'
import { DEV_ACCOUNTS, screenshot, withoutApiNoise } from './lib/harness.mjs'
import {
  approveOne,
  awayFromUploadAndBack,
  chooseForUpload,
  holdFirstRequest,
  inkOnCanvas,
  keyIsSetUp,
  recordsConfirmed,
  region,
  registerDoctor,
  requestAccess,
  requestCard,
  storedNotice,
  unlockIfAsked,
  uploadRecords,
} from './lib/journeys.mjs'
import { CHAIN_TIMEOUT, tab, until, untilRefreshed } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const REGISTRAR = DEV_ACCOUNTS[0].address
const DOCTOR = DEV_ACCOUNTS[3].address
const DOCTOR_NAME = 'Dr. Maria Lopez'
const PATIENT = DEV_ACCOUNTS[2].address
const STAMP = Date.now()
const FIRST = `Amoxicillin prescription ${STAMP}`
const SECOND = `Invoice March ${STAMP}`
const PDF_NAME = `Discharge letter ${STAMP}`
const LAB = `Lab results ${STAMP}`
const LAB_FILE = `lab-results-${STAMP}.txt`
const LAB_BODY = Buffer.from(`Lab results ${STAMP}\n${'Haemoglobin 14.1 g/dL\n'.repeat(2000)}`)
const REASON_1 = 'Please share your prescription.'
const REASON_2 = 'Please also share the March invoice.'
const UPLOAD_PATH = '/api/medical-records/upload'
const RESPOND_PATH = '/api/access-requests/patient/respond'
const PHONE = { width: 390, height: 844 }

/** The document's and the window's widths, after layout has settled. */
async function widths(page) {
  await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))))
  return page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }))
}

describe('browser: issue 14 defects, after (screenshots of each fixed situation)', { timeout: 600_000 }, () => {
  const { step, arrive, users } = useStack('defects', { onArrive: keyIsSetUp })

  /** The doctor asks the patient for access with `reason` (the newest "Request sent." confirms it). */
  const doctorAsks = (reason) => requestAccess(users.doctor.page, { patient: PATIENT, reason, button: /Sign access request to 0x3C44…93BC/, lastStatus: true })

  step('0. the registrar registers the doctor; the patient uploads a prescription, an invoice and a PDF', async () => {
    const registrar = await arrive('registrar', REGISTRAR, 'registrar', 'Doctor registry')
    await registerDoctor(registrar.page, { address: DOCTOR, name: DOCTOR_NAME, licence: 'GMC-1400014' })

    const { page } = await arrive('patient', PATIENT, 'patient', 'My records')
    await uploadRecords(page, [
      { name: FIRST, fileName: 'rx.txt', buffer: Buffer.from(`${FIRST}\nAmoxicillin 500 mg\n`) },
      { name: SECOND, fileName: 'invoice.txt', buffer: Buffer.from(`${SECOND}\n80 EUR\n`) },
      { name: PDF_NAME, fileName: 'discharge-letter.pdf', mimeType: 'application/pdf', buffer: makePdf(['HealthLedger preview test, page 1', 'Page two of the letter']) },
    ])
    await recordsConfirmed(page, [FIRST, SECOND, PDF_NAME])
  })

  step('2. the PDF preview is drawn (pdf.js on a canvas, not a sandboxed frame)', async () => {
    const { page } = users.patient
    await page.getByRole('row').filter({ hasText: PDF_NAME }).getByRole('button', { name: 'Open', exact: true }).click()
    const preview = page.getByRole('region', { name: PDF_NAME, exact: true })
    const ink = await inkOnCanvas(preview)
    assert.ok(ink > 100, `the page is drawn (${ink} non-white pixels)`)
    assert.equal(await preview.locator('iframe').count(), 0, 'no frame')
    console.log(`defect 2 after: ${ink} non-white canvas pixels`)
    await screenshot(page, 'defect-2-pdf-preview-after')
    await page.keyboard.press('Escape')
    await until('the preview to close', async () => (await preview.count()) === 0)
  })

  let heldUpload
  step('3. mid-upload the button is past the wallet and the bar is inside the 1280x900 window', async () => {
    const { page } = users.patient
    await tab(page, 'Upload')
    await chooseForUpload(page, { name: LAB, fileName: LAB_FILE, buffer: LAB_BODY })
    heldUpload = await holdFirstRequest(page, UPLOAD_PATH)
    await page.getByRole('button', { name: /Sign AddRecord for this file and upload/ }).click()
    const busyButton = page.locator('.upload-actions button[data-stage]').first()
    await until('the file to be signed and sending', async () => (await busyButton.getAttribute('data-stage')) === 'sending')
    const label = await busyButton.innerText()
    assert.match(label, /Sending…/)
    assert.doesNotMatch(label, /Waiting for your wallet/)
    const bar = page.locator('.upload-live progress')
    await bar.waitFor()
    const box = await bar.boundingBox()
    const viewport = page.viewportSize()
    assert.deepEqual(viewport, { width: 1280, height: 900 })
    assert.ok(box && box.y + box.height <= viewport.height, `the bar is inside the window (y=${box?.y})`)
    console.log(`defect 3 after: button "${label.replace(/\s+/g, ' ').trim()}", bar top y=${Math.round(box.y)} in a ${viewport.height} px window`)
    await screenshot(page, 'defect-3-upload-progress-after')
  })

  step('5. a tab change mid-upload keeps the progress; the same file again is warned about', async () => {
    const { page } = users.patient
    await awayFromUploadAndBack(page, LAB_FILE)
    await page.locator('.upload-live progress').waitFor()
    await screenshot(page, 'defect-5-tab-switch-after')

    heldUpload.release()
    await storedNotice(page, LAB).waitFor({ timeout: CHAIN_TIMEOUT })
    await heldUpload.stop()
    await page.getByLabel('File', { exact: true }).setInputFiles({ name: LAB_FILE, mimeType: 'text/plain', buffer: LAB_BODY })
    const item = page.locator(`li[data-file="${LAB_FILE}"]`).last()
    const warning = item.getByRole('status').filter({ hasText: 'Already uploaded?' })
    await warning.waitFor()
    assert.match(await warning.innerText(), new RegExp(`You added this on .+ as “${LAB}”\\.`))
    assert.ok(await page.getByRole('button', { name: /Sign AddRecord for this file and upload/ }).isDisabled(), 'the duplicate is held back')
    await screenshot(page, 'defect-5-duplicate-after')
  })

  step('1. a second request card shows what is shared, and approving it keeps the prescription', async () => {
    await arrive('doctor', DOCTOR, 'doctor', 'Find a patient')
    await doctorAsks(REASON_1)
    const { page } = users.patient
    await approveOne(page, await requestCard(page, REASON_1, { what: `the request "${REASON_1}"` }), { record: FIRST, days: 9 })

    await doctorAsks(REASON_2)
    const card = await requestCard(page, REASON_2, { what: `the request "${REASON_2}"` })
    await unlockIfAsked(card)
    await card.getByRole('group', { name: `Already shared with ${DOCTOR_NAME}` }).getByText(new RegExp(`read ${FIRST} until `)).waitFor()
    await card.getByRole('checkbox', { name: new RegExp(SECOND) }).check()
    await card.getByLabel('For how many days').fill('2')
    assert.match(await card.locator('.share-summary').innerText(), new RegExp(`^${DOCTOR_NAME} will be able to read: ${FIRST}, ${SECOND}, until .+\\.$`))
    await card.scrollIntoViewIfNeeded()
    await screenshot(page, 'defect-1-request-card-after')
    // Defect 3 for approvals: held on its way to the server, the signed approval's button says so.
    const heldAnswer = await holdFirstRequest(page, RESPOND_PATH)
    await card.getByRole('button', { name: /^Sign approval \(2 record\(s\), until / }).click()
    const approving = card.locator('button[data-stage="sending"]')
    await approving.waitFor()
    assert.match(await approving.innerText(), /Sending…/)
    await approving.scrollIntoViewIfNeeded()
    await screenshot(page, 'defect-3-approval-relaying-after')
    heldAnswer.release()
    await page.getByRole('status').filter({ hasText: /Approved 2 record\(s\) until / }).first().waitFor({ timeout: CHAIN_TIMEOUT })
    await heldAnswer.stop()

    const d = users.doctor.page
    await tab(d, 'Authorized records')
    const rows = (name) => d.getByRole('row').filter({ hasText: name })
    await untilRefreshed("both records in the doctor's list", region(d, 'Authorized records').getByRole('button', { name: 'Refresh' }),
      async () => (await rows(FIRST).count()) === 1 && (await rows(SECOND).count()) === 1, { timeout: CHAIN_TIMEOUT })
    await screenshot(d, 'defect-1-doctor-list-after')
  })

  step('4. at 390 px the patient\'s records and the doctor\'s shared records do not scroll sideways', async () => {
    const { page } = users.patient
    await tab(page, 'My records')
    await page.setViewportSize(PHONE)
    await page.getByRole('row').filter({ hasText: FIRST }).waitFor()
    const patientWidths = await widths(page)
    assert.ok(patientWidths.scrollWidth <= patientWidths.innerWidth, `patient records: ${JSON.stringify(patientWidths)}`)
    await screenshot(page, 'defect-4-phone-patient-records-after')

    const d = users.doctor.page
    await d.setViewportSize(PHONE)
    const doctorWidths = await widths(d)
    assert.ok(doctorWidths.scrollWidth <= doctorWidths.innerWidth, `doctor records: ${JSON.stringify(doctorWidths)}`)
    const open = d.getByRole('row').filter({ hasText: FIRST }).getByRole('button', { name: 'Open', exact: true })
    const box = await open.boundingBox()
    assert.ok(box && box.x + box.width <= PHONE.width, `"Open" is on screen (right edge ${box && box.x + box.width})`)
    console.log(`defect 4 after: patient ${JSON.stringify(patientWidths)}, doctor ${JSON.stringify(doctorWidths)}`)
    await screenshot(d, 'defect-4-phone-doctor-records-after')
    assert.deepEqual(withoutApiNoise(users.patient.problems), [])
    assert.deepEqual(withoutApiNoise(users.doctor.problems), [])
  })
})
