// Screen audit in headless Chromium against the real stack (scripts/run_stack.py): every screen of
// every role, at 1280x800 and at 390x844 (a phone), with a little data on it so lists show rows:
//   registrar (#0) registers a doctor (#3) -> the patient (#2) signs in (key set up) and uploads a
//   record -> the doctor signs in (key set up) and asks the patient for access.
// Then, for each screen and width: a full-page screenshot in
// test-artifacts/browser/<role>-<screen>-<width>.png, no sideways scrolling (document scrollWidth <=
// innerWidth), axe-core with no serious or critical violation (and the dark theme's contrast at
// 1280 px), and on the phone: tap targets (buttons, tabs, fields, checkbox and radio labels,
// summaries) at least 44 px and a header plus tabs no taller than 110 px. Focus moves to the
// screen's one <h1> when a tab is clicked. One stack, one Chromium profile per role, reused across
// screens and widths; every finding is collected, so one run reports them all.
// axe-core 4.14 (npm, pinned in frontend/package.json) runs from node_modules, nothing downloaded.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { DEV_ACCOUNTS, frontendRequire, installWallet, launchBrowser, openPage, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { registerDoctor, requestAccess, uploadRecords } from './lib/journeys.mjs'
import { CHAIN_TIMEOUT, UI_TIMEOUT, chooseFile, until } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

// axe-core from frontend/node_modules (pinned in package.json). The app's Content-Security-Policy
// (script-src 'self') refuses a <script> tag from page.addScriptTag, rightly; evaluating the source
// through the DevTools protocol is not subject to it, and the policy under test stays as shipped.
const AXE_SOURCE = readFileSync(frontendRequire.resolve('axe-core/axe.min.js'), 'utf8')
const WIDTHS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
]
const REGISTRAR = DEV_ACCOUNTS[0].address
const PATIENT = DEV_ACCOUNTS[2].address
const DOCTOR = DEV_ACCOUNTS[3].address
const DOCTOR_NAME = 'Dr. Ada Audit'
const RECORD_NAME = `Screen audit blood test ${Date.now()}`
const REASON = 'Screen audit: please share your latest blood test.'
const FHIR_NAME = `Screen audit lab report ${Date.now()}`

/** A structured record the patient adds for themselves (subject and author: the patient), one result out of range. */
function labReport(patient) {
  const person = { identifier: { system: 'urn:ethereum:address', value: patient } }
  return {
    resourceType: 'DiagnosticReport',
    status: 'final',
    code: { text: 'Complete blood count' },
    subject: person,
    performer: [person],
    contained: [
      { resourceType: 'Observation', id: 'r1', status: 'final', code: { text: 'Haemoglobin' }, valueQuantity: { value: 19.5, unit: 'g/dL' },
        referenceRange: [{ low: { value: 12, unit: 'g/dL' }, high: { value: 16, unit: 'g/dL' } }],
        interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'H' }] }] },
    ],
    result: [{ reference: '#r1' }],
  }
}
/** The doctor's structured-record forms, audited as extra states of the "Add a record" screen. */
const FORMS = [
  ['Prescription (form)', 'prescription'],
  ['Result report (form)', 'report'],
  ['Invoice (form)', 'invoice'],
]
const MIN_TAP = 44
const MAX_CHROME = 110 // header + tabs on a phone

/** Each role's screens: [artifact name, hash route]. Sections that share a tab share its screenshot. */
const SCREENS = {
  patient: [
    ['records', 'records'],
    ['upload', 'upload'],
    ['requests', 'requests'],
    ['sharing', 'sharing'], // sharing and write access
    ['audit', 'audit'],
    ['profile', 'profile'],
  ],
  doctor: [
    ['find-and-requests', 'find'], // find a patient, my requests
    ['shared-records', 'authorized'], // authorized records, patients who let you add records
    ['add-and-added', 'add'], // add a record, records you added
    ['profile', 'profile'],
  ],
  registrar: [
    ['doctors', 'doctors'],
    ['audit', 'audit'],
    ['status', 'status'],
  ],
}

/** axe-core's serious and critical violations on the page, one line each (rule, impact, help, where). */
async function axeProblems(page, options = {}) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE)
  const result = await page.evaluate((runOptions) => window.axe.run(document, { resultTypes: ['violations'], ...runOptions }), options)
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`)
}

/** Visible tap targets smaller than MIN_TAP px (inline links inside text are exempt, as in WCAG 2.5.8). */
function smallTapTargets(page) {
  return page.evaluate((min) => {
    const selector = 'button, a.btn, nav a, summary, label.check, select, input[type=text], input[type=search], input[type=number]'
    return [...document.querySelectorAll(selector)]
      .filter((el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')
      .map((el) => ({ el, box: el.getBoundingClientRect() }))
      .filter(({ box }) => box.width > 1 && box.height > 1 && (box.height < min - 0.5 || box.width < min - 0.5))
      .map(({ el, box }) => `${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40)}" ${Math.round(box.width)}x${Math.round(box.height)}`)
  }, MIN_TAP)
}

/** Wait until no card on the page still says "Loading …". */
async function settled(page) {
  await until('the screen to finish loading', async () => (await page.getByText(/^Loading .*…$/).count()) === 0)
}

describe('screen audit: every screen at 1280 and 390 px (screenshot, no sideways scroll, axe, tap targets)', { timeout: 900_000 }, () => {
  // Plain tests, not steps: each finding is collected, and the screens tests skip themselves unless seeded.
  const suite = useStack('screens')
  const { users, arrive } = suite
  const failures = []
  const figures = { screens: 0, chrome: 0 } // pages audited; tallest header + tabs on the phone
  let ready = false

  after(() => {
    console.log(`screens audited: ${figures.screens} (screen x width); tallest header + tabs at 390 px: ${figures.chrome} px`)
  })

  /** The audit of the page as it is now, at each width: every problem found, labelled `name`. */
  async function audit(page, name) {
    for (const size of WIDTHS) {
      await page.setViewportSize(size)
      // Let layout (and anything that measures it) settle on the new size.
      await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))))
      await screenshot(page, `${name}-${size.width}`)
      const where = `${name} at ${size.width} px`
      const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }))
      figures.screens++
      if (scrollWidth > innerWidth) failures.push(`${where}: the page scrolls sideways (scrollWidth ${scrollWidth} > ${innerWidth})`)
      for (const problem of await axeProblems(page)) failures.push(`${where}: axe ${problem}`)
      if (size.width >= 600) {
        // The dark theme (prefers-color-scheme) has its own colours: their contrast, once per screen.
        await page.emulateMedia({ colorScheme: 'dark' })
        for (const problem of await axeProblems(page, { runOnly: ['color-contrast'] })) failures.push(`${where}, dark theme: axe ${problem}`)
        await page.emulateMedia({ colorScheme: 'light' })
      }
      if (size.width < 600) {
        for (const small of await smallTapTargets(page)) failures.push(`${where}: tap target below ${MIN_TAP} px: ${small}`)
        const chrome = await page.evaluate(() => {
          const header = document.querySelector('header')?.getBoundingClientRect().height ?? 0
          const tabs = document.querySelector('nav[aria-label="Sections"]')?.getBoundingClientRect().height ?? 0
          return Math.round(header + tabs)
        })
        figures.chrome = Math.max(figures.chrome, chrome)
        if (chrome > MAX_CHROME) failures.push(`${where}: header and tabs take ${chrome} px (at most ${MAX_CHROME})`)
      }
    }
    await page.setViewportSize(WIDTHS[0])
  }

  /**
   * Click the tab for `route` and wait for the screen. Focus must move to its one <h1> (noted as a
   * failure, like every other finding, so one run reports them all); returns the <h1>'s text.
   */
  async function open(page, route) {
    await page.locator(`nav[aria-label="Sections"] a[href="#/${route}"]`).click()
    await until(`#/${route} to show`, async () => (await page.evaluate(() => location.hash)) === `#/${route}`)
    await settled(page)
    const focused = await until(`focus on the <h1> of #/${route}`, () =>
      page.evaluate(() => (document.activeElement?.tagName === 'H1' ? document.activeElement.textContent : null)),
    { timeout: 5000 }).catch(() => null)
    if (focused === null) failures.push(`#/${route}: focus did not move to the screen's <h1> when its tab was clicked`)
    const h1s = await page.locator('h1').count()
    if (h1s !== 1) failures.push(`#/${route}: ${h1s} <h1> elements (one expected)`)
    return focused
  }

  /** One <h1> on a page that has no tabs. */
  async function oneH1(page, where) {
    const h1s = await page.locator('h1').count()
    if (h1s !== 1) failures.push(`${where}: ${h1s} <h1> elements (one expected)`)
  }

  it('the signed-out pages pass (connect, then sign in)', async () => {
    const browser = await launchBrowser()
    try {
      await installWallet(browser.context, { rpcUrl: suite.stack.rpcUrl, account: PATIENT })
      const { page, problems } = await openPage(browser.context)
      page.setDefaultTimeout(UI_TIMEOUT)
      await page.goto(suite.stack.url, { waitUntil: 'load' })
      await page.getByRole('button', { name: 'Connect HealthLedger Test Wallet' }).waitFor()
      await oneH1(page, 'signed-out-connect')
      await audit(page, 'signed-out-connect')
      await page.getByRole('button', { name: 'Connect HealthLedger Test Wallet' }).click()
      await page.getByRole('heading', { name: 'Sign in' }).waitFor()
      await oneH1(page, 'signed-out-sign-in')
      await audit(page, 'signed-out-sign-in')
      assert.deepEqual(failures, [])
      assert.deepEqual(withoutApiNoise(problems), [])
    } finally {
      await browser.close()
    }
  })

  it('seeds a little data: a doctor, an uploaded record, an access request', async () => {
    const registrar = await arrive('registrar', REGISTRAR, 'registrar')
    let page = registrar.page
    await registerDoctor(page, { address: DOCTOR, name: DOCTOR_NAME, licence: 'GMC-7600001' })

    const patient = await arrive('patient', PATIENT, 'patient')
    page = patient.page
    // The key-setup card right after the first sign-in.
    await page.locator('[data-key-setup]').getByText('Encryption key set up').waitFor()
    await settled(page)
    const start = failures.length
    await oneH1(page, 'patient-key-setup')
    await audit(page, 'patient-key-setup')
    const keySetupFailures = failures.slice(start)
    await open(page, 'upload')
    await chooseFile(page, {
      name: RECORD_NAME,
      fileName: 'blood-test.txt',
      buffer: Buffer.from(`Screen audit report\nHaemoglobin: 14.1 g/dL\nGenerated ${new Date().toISOString()}\n`),
    })
    const keyButton = page.getByRole('button', { name: /Sign the key message/ })
    if (await keyButton.isVisible()) {
      await keyButton.click()
      await page.getByText('Encryption key unlocked').waitFor()
    }
    await page.getByRole('button', { name: /^Sign .*upload/i }).click()
    await page.getByRole('status').filter({ hasText: 'Stored and anchored' }).waitFor({ timeout: CHAIN_TIMEOUT })
    // A structured record too, so "My records" can open one as a card.
    await uploadRecords(page, [
      { name: FHIR_NAME, fileName: 'lab-results.fhir.json', mimeType: 'application/fhir+json', type: 'report', buffer: Buffer.from(JSON.stringify(labReport(PATIENT))) },
    ])

    const doctor = await arrive('doctor', DOCTOR, 'doctor')
    page = doctor.page
    await requestAccess(page, { patient: PATIENT, reason: REASON, button: /Sign access request to/ })
    ready = true
    assert.deepEqual(keySetupFailures, [])
  })

  for (const role of ['patient', 'doctor', 'registrar']) {
    it(`every ${role} screen passes at both widths`, async (t) => {
      if (!ready) return t.skip('the data was not seeded')
      const { page, problems } = users[role]
      const titles = new Set()
      const before = failures.length
      // Start elsewhere so that the first tab is a change too.
      await open(page, SCREENS[role].at(-1)[1])
      for (const [name, route] of SCREENS[role]) {
        titles.add(await open(page, route))
        if (role === 'patient' && route === 'records') {
          await page.getByRole('row').filter({ hasText: RECORD_NAME }).getByText(/confirmed|anchored/).waitFor({ timeout: CHAIN_TIMEOUT })
        }
        if (role === 'patient' && route === 'requests') await page.getByText(REASON).waitFor({ timeout: UI_TIMEOUT })
        await audit(page, `${role}-${name}`)
        if (role === 'patient' && route === 'records') {
          // A structured record opened as a card, its raw FHIR shown too.
          const row = page.getByRole('row').filter({ hasText: FHIR_NAME })
          await row.getByText(/confirmed|anchored/).waitFor({ timeout: CHAIN_TIMEOUT })
          await row.getByRole('button', { name: 'Open', exact: true }).click()
          const preview = page.getByRole('region', { name: FHIR_NAME })
          await preview.getByText('High (above 16 g/dL)').waitFor()
          await preview.getByText('Details (FHIR JSON)').click()
          await audit(page, `${role}-${name}-fhir-card`)
          await preview.getByRole('button', { name: 'Close' }).click()
          // "Import (FHIR)": the confirmation of what a Bundle becomes (one report) and what it refuses (a Patient).
          const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: labReport(PATIENT) }, { resource: { resourceType: 'Patient' } }] }
          await page.getByTestId('fhir-import-input').setInputFiles({ name: 'other-provider.json', mimeType: 'application/fhir+json', buffer: Buffer.from(JSON.stringify(bundle)) })
          const plan = page.getByRole('region', { name: 'Import from other-provider.json' })
          await plan.getByRole('button', { name: 'Import 1 record' }).waitFor()
          await plan.getByRole('list', { name: 'Entries not imported' }).waitFor()
          await audit(page, `${role}-${name}-import-plan`)
          await plan.getByRole('button', { name: 'Cancel' }).click()
        }
        if (role === 'doctor' && route === 'add') {
          for (const [label, kind] of FORMS) {
            await page.getByRole('radio', { name: label }).check()
            await page.getByRole('button', { name: 'Preview', exact: true }).waitFor()
            await audit(page, `${role}-${name}-${kind}-form`)
          }
          await page.getByRole('radio', { name: 'Upload a file' }).check()
        }
      }
      assert.deepEqual(failures.slice(before), [])
      assert.equal(titles.size, SCREENS[role].length, `each screen has its own <h1>: ${[...titles].join(' | ')}`)
      assert.deepEqual(withoutApiNoise(problems), [])
    })
  }

  it('an address copies in full from its copy button', async (t) => {
    if (!ready) return t.skip('the data was not seeded')
    const { page, browser } = users.doctor
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.stack.url })
    await open(page, 'find')
    const row = page.getByRole('region', { name: 'My requests' }).getByRole('row').filter({ hasText: REASON })
    await row.getByRole('button', { name: 'Copy full address' }).click()
    await row.getByRole('button', { name: 'Address copied' }).waitFor()
    assert.equal((await page.evaluate(() => navigator.clipboard.readText())).toLowerCase(), PATIENT.toLowerCase())
  })

  it('a table is cards on a phone: every value on screen, labelled', async (t) => {
    if (!ready) return t.skip('the data was not seeded')
    const { page } = users.patient
    await open(page, 'records')
    await page.setViewportSize(WIDTHS[1])
    const row = page.getByRole('row').filter({ hasText: RECORD_NAME })
    const cells = await row.evaluate((tr) =>
      [...tr.querySelectorAll('td')].map((td) => ({ label: td.dataset.label ?? '', right: td.getBoundingClientRect().right, shown: getComputedStyle(td, '::before').content })),
    )
    await page.setViewportSize(WIDTHS[0])
    assert.ok(cells.length >= 3, JSON.stringify(cells))
    for (const cell of cells) assert.ok(cell.right <= WIDTHS[1].width, `a cell ends at ${cell.right} px, off a ${WIDTHS[1].width} px screen`)
    const labelled = cells.filter((c) => c.label)
    assert.ok(labelled.length >= cells.length - 1, 'every cell but the actions has a label')
    for (const cell of labelled) assert.equal(cell.shown, JSON.stringify(cell.label), 'the label is shown before the value')
    await row.getByRole('button', { name: 'Verify', exact: true }).waitFor() // still a row with its buttons, for assistive tech too
  })
})
