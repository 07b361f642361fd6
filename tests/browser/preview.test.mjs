// Record previews in headless Chromium against the real stack (scripts/run_stack.py: Anvil, js-ipfs,
// SecantusDB, the API serving frontend/dist):
//   registrar (#0) registers a doctor (#3) -> the patient (#2) publishes a display name and uploads a
//   two-page PDF, a PNG and a .txt (all made here) -> opens the PDF: pdf.js draws page 1 on a canvas
//   (some non-white pixel) with pdf.js, its worker and font from the app itself, "Page 1 of 2", next
//   page draws page 2; the preview is scrolled into view and focused, Escape closes it -> the PNG shows as an <img> with a natural width -> the .txt is
//   offered as a download with its name and size, and the download is the file -> the doctor asks for
//   access, the patient shares the PDF -> the doctor's shared records name the patient by their
//   published name, and the doctor opens the PDF drawn on a canvas too.
// Screenshots of each preview land in test-artifacts/browser/preview-*.png.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe } from 'node:test'
import { DEV_ACCOUNTS, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { makePdf, makePng } from './lib/files.mjs'
import { approveOne, inkOnCanvas, keyIsSetUp, recordsConfirmed, region, registerDoctor, requestAccess, requestCard, uploadRecords } from './lib/journeys.mjs'
import { CHAIN_TIMEOUT, tab, until, untilRefreshed } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const REGISTRAR = DEV_ACCOUNTS[0].address
const DOCTOR = DEV_ACCOUNTS[3].address
const DOCTOR_NAME = 'Dr. Pia Preview'
const PATIENT = DEV_ACCOUNTS[2].address
const PATIENT_NAME = 'Maria Preview'
const STAMP = Date.now()
const PDF_NAME = `Discharge letter ${STAMP}`
const PNG_NAME = `Rash photo ${STAMP}`
const TXT_NAME = `Diet notes ${STAMP}`
const TXT_BODY = `Diet notes\nLess salt, more water.\n${new Date().toISOString()}\n`
const REASON = 'Please share your discharge letter before the follow-up.'

const FILES = [
  { name: PDF_NAME, fileName: 'discharge-letter.pdf', mimeType: 'application/pdf', buffer: makePdf(['HealthLedger preview test, page 1', 'Page two of the letter']) },
  { name: PNG_NAME, fileName: 'rash.png', mimeType: 'image/png', buffer: makePng(40, 30, [200, 40, 40]) },
  { name: TXT_NAME, fileName: 'diet-notes.txt', mimeType: 'text/plain', buffer: Buffer.from(TXT_BODY) },
]

/** The preview is on screen (its top within the viewport) and holds the focus. */
async function inViewAndFocused(preview) {
  return until('the preview to be scrolled into view and focused', () =>
    preview.evaluate((element) => {
      const top = element.getBoundingClientRect().top
      return top >= 0 && top < window.innerHeight && document.activeElement === element
    }),
  )
}

describe('browser: previews of PDFs, images and other files, for the patient and a doctor', { timeout: 600_000 }, () => {
  const suite = useStack('preview', { onArrive: keyIsSetUp })
  const { step, arrive, users } = suite

  /** Open `name` from the patient's records and return its preview (a region named by the record). */
  async function patientOpens(name) {
    const { page } = users.patient
    await page.getByRole('row').filter({ hasText: name }).getByRole('button', { name: 'Open', exact: true }).click()
    const preview = page.getByRole('region', { name, exact: true })
    await preview.getByText('✓ re-checked in your browser').waitFor()
    return preview
  }

  step('0. registrar registers the doctor', async () => {
    const { page } = await arrive('registrar', REGISTRAR, 'registrar', 'Doctor registry')
    await registerDoctor(page, { address: DOCTOR, name: DOCTOR_NAME, licence: 'GMC-5550001' })
  })

  step('1. the patient publishes a name and uploads a PDF, a PNG and a text file', async () => {
    const { page } = await arrive('patient', PATIENT, 'patient', 'My records')
    // The profile through the API with the page's own session (the profile screen is another part's).
    const profile = await page.evaluate(async (displayName) => {
      const { accessToken } = JSON.parse(sessionStorage.getItem('healthledger.session'))
      const response = await fetch('/api/profile', {
        method: 'PUT',
        headers: { Authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ displayName, published: true }),
      })
      return { status: response.status, body: await response.json() }
    }, PATIENT_NAME)
    assert.equal(profile.status, 200, JSON.stringify(profile.body))

    await uploadRecords(page, FILES)
    await recordsConfirmed(page, FILES.map((file) => file.name))
  })

  step('2. the PDF is drawn by pdf.js, page by page; the preview comes into view, takes focus and closes with Escape', async () => {
    const { page } = users.patient
    // A short window, so the records table pushes the preview below the fold.
    await page.setViewportSize({ width: 1280, height: 700 })
    const loaded = []
    const noteRequest = (request) => loaded.push(request.url())
    page.on('request', noteRequest)
    const preview = await patientOpens(PDF_NAME)
    await inViewAndFocused(preview)
    assert.equal(await preview.locator('iframe').count(), 0, 'no frame: the sandboxed iframe left PDFs blank')
    await preview.getByText('Page 1 of 2').waitFor()
    const ink1 = await inkOnCanvas(preview)
    assert.ok(ink1 > 0, 'page 1 has some non-white pixel')
    assert.equal(await preview.getByRole('img', { name: `${PDF_NAME}, page 1 of 2` }).count(), 1)
    // pdf.js, its worker and the Helvetica it draws with (the bundled Liberation Sans) came from the app itself.
    page.off('request', noteRequest)
    const origin = new URL(suite.stack.url).origin
    assert.deepEqual(loaded.filter((url) => !url.startsWith(origin) && !url.startsWith('blob:') && !url.startsWith('data:')), [], 'nothing from elsewhere')
    for (const asset of [/\/assets\/pdf-[\w-]+\.js$/, /\/assets\/pdf\.worker\.min-[\w-]+\.js$/, /\/assets\/LiberationSans-Regular-[\w-]+\.ttf$/])
      assert.ok(loaded.some((url) => asset.test(url)), `${asset} loaded: ${loaded.join(' ')}`)
    await screenshot(page, 'preview-01-patient-pdf-page-1')

    await preview.getByRole('button', { name: /Next page/ }).click()
    await preview.getByText('Page 2 of 2').waitFor()
    await preview.locator('canvas.pdf-page[data-page="2"][data-rendered="true"]').waitFor()
    assert.ok((await inkOnCanvas(preview)) > 0, 'page 2 has some non-white pixel')
    assert.ok(await preview.getByRole('button', { name: /Next page/ }).isDisabled(), 'no page after the last')
    await screenshot(page, 'preview-02-patient-pdf-page-2')

    await page.keyboard.press('Escape')
    await until('Escape to close the preview', async () => (await preview.count()) === 0)
    await page.setViewportSize({ width: 1280, height: 900 })
  })

  step('3. the PNG shows inline as an image', async () => {
    const { page } = users.patient
    const preview = await patientOpens(PNG_NAME)
    await inViewAndFocused(preview)
    const image = preview.getByRole('img', { name: PNG_NAME, exact: true })
    await image.waitFor()
    const size = await until('the image to decode', () => image.evaluate((img) => img.complete && img.naturalWidth > 0 && { width: img.naturalWidth, height: img.naturalHeight, src: img.src }))
    assert.deepEqual([size.width, size.height], [40, 30])
    assert.match(size.src, /^blob:/)
    await screenshot(page, 'preview-03-patient-png')
    await preview.getByRole('button', { name: 'Close', exact: true }).click()
    await until('Close to close the preview', async () => (await preview.count()) === 0)
    // The blob URL of a closed preview no longer serves the decrypted file.
    const stillThere = await page.evaluate(
      (src) =>
        new Promise((answer) => {
          const probe = new Image()
          probe.onload = () => answer(true)
          probe.onerror = () => answer(false)
          probe.src = src
        }),
      size.src,
    )
    assert.equal(stillThere, false, 'the image URL is revoked on close')
    // The probe's failed load is the browser's report of that revoked URL, not a problem of the page.
    const patient = users.patient
    patient.problems.splice(0, patient.problems.length, ...patient.problems.filter((p) => !p.includes(size.src) && !/Failed to load resource: net::ERR_FILE_NOT_FOUND/.test(p)))
  })

  step('4. a text file is offered as a download with its name and size', async () => {
    const { page } = users.patient
    const preview = await patientOpens(TXT_NAME)
    // Saved under the record's name (the server keeps no file name) with the extension its type implies.
    const link = preview.locator('.preview-download').getByRole('link', { name: `Download ${TXT_NAME}.txt (${Buffer.byteLength(TXT_BODY)} B)`, exact: true })
    await link.waitFor()
    assert.match(await preview.innerText(), /no preview for this kind of file \(text\/plain\)/)
    await screenshot(page, 'preview-04-patient-txt-download')
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()])
    assert.equal(download.suggestedFilename(), `${TXT_NAME}.txt`)
    assert.equal(readFileSync(await download.path(), 'utf8'), TXT_BODY)
    assert.deepEqual(withoutApiNoise(users.patient.problems), [])
  })

  step('5. the doctor asks for access; the patient shares the PDF', async () => {
    const { page } = await arrive('doctor', DOCTOR, 'doctor', 'Find a patient')
    await requestAccess(page, { patient: PATIENT, reason: REASON, button: `Sign access request to ${PATIENT_NAME} (0x3C44…93BC)` })

    const patientPage = users.patient.page
    const card = await requestCard(patientPage, REASON)
    await approveOne(patientPage, card, { record: PDF_NAME, days: 1 })
  })

  step("6. the doctor's shared records name the patient, and the doctor sees the PDF drawn too", async () => {
    const { page } = users.doctor
    await tab(page, 'Authorized records')
    const card = page.getByRole('article', { name: new RegExp(`^Patient ${PATIENT_NAME}`) })
    await untilRefreshed("the patient's card, named", region(page, 'Authorized records').getByRole('button', { name: 'Refresh' }), () => card.count(), {
      timeout: CHAIN_TIMEOUT,
    })
    assert.match(await card.getByRole('heading').innerText(), new RegExp(`^Patient ${PATIENT_NAME} 0x3C44…93BC$`))
    const row = card.getByRole('row').filter({ hasText: PDF_NAME })
    await row.getByRole('button', { name: 'Open', exact: true }).click()
    const preview = page.getByRole('region', { name: PDF_NAME, exact: true })
    await preview.getByRole('status').getByText('Verified against the chain.').waitFor()
    await inViewAndFocused(preview)
    await preview.getByText('Page 1 of 2').waitFor()
    assert.ok((await inkOnCanvas(preview)) > 0, "the doctor's canvas has some non-white pixel")
    await screenshot(page, 'preview-05-doctor-pdf')
    await page.keyboard.press('Escape')
    await until('Escape to close the doctor\'s preview', async () => (await preview.count()) === 0)
    assert.deepEqual(withoutApiNoise(users.doctor.problems), [])
  })
})
