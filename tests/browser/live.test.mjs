// Live updates in headless Chromium against the real stack (scripts/run_stack.py: Anvil, js-ipfs,
// SecantusDB, the API serving frontend/dist); nobody reloads a page or clicks Refresh:
//   registrar (#0) registers a doctor (#3) -> the patient (#2) uploads a record and keeps the app
//   open -> the doctor asks for access in a second browser -> the patient's "Requests" tab shows a
//   badge "1" and the title "(1) HealthLedger" -> the patient approves for one day -> the doctor's
//   open "My requests" says "approved", the patient's Sharing tab counts a grant ending within 24 h
//   -> the patient revokes the record -> it leaves the doctor's open "Authorized records" list.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { describe } from 'node:test'
import { DEV_ACCOUNTS, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { approveOne, registerDoctor, requestAccess, uploadRecords } from './lib/journeys.mjs'
import { CHAIN_TIMEOUT, tab, until } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const REGISTRAR = DEV_ACCOUNTS[0].address
const PATIENT = DEV_ACCOUNTS[2].address
const DOCTOR = DEV_ACCOUNTS[3].address
const DOCTOR_NAME = 'Lena Live'
const RECORD_NAME = `Blood panel ${Date.now()}`
const REASON = 'Reviewing your blood panel before Monday.'
// Live waits: a few poll intervals plus a mined transaction, never a page reload.
const LIVE_TIMEOUT = CHAIN_TIMEOUT

const nav = (page) => page.getByRole('navigation', { name: 'Sections' })
const badge = (page, route) => nav(page).getByTestId(`tab-badge-${route}`)
const badgeText = async (page, route) => ((await badge(page, route).count()) ? (await badge(page, route).innerText()).trim() : null)

describe('browser: live updates and notifications (badges, title, request states, revocations)', { timeout: 600_000 }, () => {
  // Nothing may reload a page once its user arrived: a marker on window would vanish with it.
  const markPage = (user) => user.page.evaluate(() => (window.__liveMarker = 'same page'))
  const { step, arrive, users } = useStack('live', { onArrive: markPage })

  const samePage = async (page) => assert.equal(await page.evaluate(() => window.__liveMarker), 'same page', 'the page was not reloaded')

  step('0. the registrar registers the doctor', async () => {
    const { page } = await arrive('registrar', REGISTRAR, 'registrar', 'Doctor registry')
    await registerDoctor(page, { address: DOCTOR, name: DOCTOR_NAME, licence: 'GMC-3000001' })
    // Registrars get no notifications (and no poll).
    assert.doesNotMatch(await page.title(), /^\(\d+\)/)
  })

  step('1. the patient uploads a record; nothing to notify yet', async () => {
    const { page } = await arrive('patient', PATIENT, 'patient', 'My records')
    await uploadRecords(page, [{ name: RECORD_NAME, fileName: 'panel.txt', buffer: Buffer.from(`Hb 14.1 g/dL\n${new Date().toISOString()}\n`) }])
    await tab(page, 'My records')
    await until('a first notifications answer', () => page.evaluate(() => performance.getEntriesByType('resource').some((e) => e.name.includes('/api/notifications'))))
    assert.equal(await page.title(), 'HealthLedger')
    assert.equal(await badgeText(page, 'requests'), null)
  })

  step('2. a doctor asks in another browser: the badge and "(1)" appear on the open page', async () => {
    const d = (await arrive('doctor', DOCTOR, 'doctor', 'Find a patient')).page
    await requestAccess(d, { patient: PATIENT, reason: REASON, button: /Sign access request to 0x3C44…93BC/ })
    const mine = d.getByRole('row').filter({ hasText: REASON })
    await until('the pending request in "My requests"', async () => (await mine.count()) === 1 && /waiting for the patient/.test(await mine.innerText()), { timeout: LIVE_TIMEOUT })

    const { page } = users.patient
    await until('the Requests badge "1" and the title "(1)"', async () => (await badgeText(page, 'requests')) === '1' && (await page.title()) === '(1) HealthLedger', { timeout: LIVE_TIMEOUT })
    // The tab's name stays "Requests" (the number is aria-hidden); its description says it in words.
    const requestsTab = nav(page).getByRole('link', { name: 'Requests', exact: true })
    const describedBy = await requestsTab.getAttribute('aria-describedby')
    assert.ok(describedBy, 'the tab is described by its badge text')
    assert.equal(await page.locator(`#${describedBy}`).textContent(), '1 request waiting for your answer')
    await samePage(page)
    await screenshot(page, 'live-01-patient-badge')
  })

  step('3. the patient approves: the doctor\'s open page says "approved" and lists the record', async () => {
    const { page } = users.patient
    await tab(page, 'Requests')
    const card = page.getByRole('article').filter({ hasText: REASON })
    await card.waitFor({ timeout: LIVE_TIMEOUT })
    await approveOne(page, card, { record: RECORD_NAME, days: 1 })
    // Nothing pending any more; a one-day grant ends within 24 hours: the Sharing tab says so.
    await until('the Sharing badge for the grant ending within 24 h', async () => (await badgeText(page, 'requests')) === null && (await badgeText(page, 'sharing')) === '1' && (await page.title()) === '(1) HealthLedger', { timeout: LIVE_TIMEOUT })

    const d = users.doctor.page
    const mine = d.getByRole('row').filter({ hasText: REASON })
    await until('"approved" in the doctor\'s open "My requests"', async () => /\bapproved\b/.test(await mine.innerText()), { timeout: LIVE_TIMEOUT })
    await samePage(d)
    await screenshot(d, 'live-02-doctor-request-approved')
    await tab(d, 'Authorized records')
    await d.getByRole('row').filter({ hasText: RECORD_NAME }).waitFor({ timeout: LIVE_TIMEOUT })
    await until('the doctor\'s badge for the grant ending within 24 h', async () => (await badgeText(d, 'authorized')) === '1', { timeout: LIVE_TIMEOUT })
  })

  step('4. the patient revokes the record: it leaves the doctor\'s open list', async () => {
    const { page } = users.patient
    await tab(page, 'Sharing')
    const revoke = page.getByRole('button', { name: new RegExp(`^Revoke record \\d+ \\(${RECORD_NAME}\\)`) })
    await revoke.click({ timeout: LIVE_TIMEOUT })
    const confirm = page.getByRole('dialog').getByRole('button', { name: /^(Revoke|Yes)/ })
    if (await confirm.count()) await confirm.first().click()
    await page.getByRole('status').filter({ hasText: /revoked/ }).first().waitFor({ timeout: CHAIN_TIMEOUT })

    const d = users.doctor.page
    await until('the revoked record to leave the doctor\'s list without a refresh', async () => (await d.getByRole('row').filter({ hasText: RECORD_NAME }).count()) === 0, { timeout: LIVE_TIMEOUT })
    await until('the doctor\'s and patient\'s grant badges to go', async () => (await badgeText(d, 'authorized')) === null && (await badgeText(page, 'sharing')) === null && (await page.title()) === 'HealthLedger', { timeout: LIVE_TIMEOUT })
    await samePage(d)
    await samePage(page)
    await screenshot(d, 'live-03-doctor-after-revoke')
    for (const user of Object.values(users)) assert.deepEqual(withoutApiNoise(user.problems), [])
  })
})
