// People, not addresses, in headless Chromium against the real stack (scripts/run_stack.py: Anvil,
// js-ipfs, SecantusDB, the API serving frontend/dist):
//   the registrar registers two doctors and sees both listed without searching -> the patient sets a
//   display name on the Profile screen and lets doctors find them by it -> a doctor finds the patient
//   by part of that name (any case), picks them and asks for access -> the doctor's own requests name
//   the patient -> the patient's request card names the doctor (short address beside it, full one on
//   hover) and explains the signature in plain words with the EIP-712 type behind "Details" -> the
//   header names the network, and the Status tab is the registrar's only.
// Screenshots land in test-artifacts/browser/people-*.png.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { describe } from 'node:test'
import { DEV_ACCOUNTS, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { keyIsSetUp, registerDoctor, requestCard } from './lib/journeys.mjs'
import { CHAIN_TIMEOUT, tab, until, untilRefreshed } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const REGISTRAR = DEV_ACCOUNTS[0].address
const PATIENT = DEV_ACCOUNTS[2].address
const PATIENT_NAME = 'Lucía Peoplestest'
const DOCTORS = [
  { address: DEV_ACCOUNTS[3].address, name: 'Dr. Nora Names', licence: 'GMC-1110001' },
  { address: DEV_ACCOUNTS[4].address, name: 'Dr. Omar Other', licence: 'GMC-1110002' },
]
const DOCTOR = DOCTORS[0]
const REASON = 'Follow-up on your blood results, please share them.'
const short = (address) => `${address.slice(0, 6)}…${address.slice(-4)}`

describe('browser: people by name (profile, find by name, names on requests, plain language)', { timeout: 600_000 }, () => {
  const { step, arrive, users } = useStack('people', { onArrive: keyIsSetUp })

  const tabs = async (page) => (await page.getByRole('navigation', { name: 'Sections' }).getByRole('link').allInnerTexts()).map((t) => t.trim())

  step('0. the registrar registers two doctors; the list shows every doctor without a search', async () => {
    const { page } = await arrive('registrar', REGISTRAR, 'registrar', 'Doctor registry')
    assert.ok((await tabs(page)).includes('Status'), 'registrars keep the Status screen')
    // Before any registration: the list is there, empty, without searching.
    await page.getByRole('heading', { name: /^All doctors/ }).waitFor()
    await page.getByText('No doctor registered yet.').waitFor()
    for (const doctor of DOCTORS) await registerDoctor(page, doctor)
    const list = page.getByRole('list', { name: /^All doctors/ })
    await until('both doctors listed', async () => (await list.getByRole('listitem').count()) === 2)
    const items = await list.getByRole('listitem').allInnerTexts()
    assert.match(items[0], new RegExp(`^${DOCTORS[0].name} ${short(DOCTORS[0].address)}`))
    assert.match(items[1], new RegExp(`^${DOCTORS[1].name} ${short(DOCTORS[1].address)}`))
    assert.match(await page.getByRole('heading', { name: /^All doctors/ }).innerText(), /All doctors \(2\)/)
    // The search narrows the list; "Show all" brings everyone back.
    await page.getByLabel('Find registered doctors').fill('omar')
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    const narrowed = page.getByRole('list', { name: /^Doctors matching “omar”/ })
    await until('the search to narrow the list', async () => (await narrowed.getByRole('listitem').count()) === 1)
    assert.match(await narrowed.innerText(), /Dr\. Omar Other/)
    await page.getByRole('button', { name: 'Show all', exact: true }).click()
    await until('every doctor again', async () => (await list.getByRole('listitem').count()) === 2)
    await screenshot(page, 'people-01-registrar-all-doctors')
    assert.deepEqual(withoutApiNoise(users.registrar.problems), [])
  })

  step('0b. the registrar approves a billing clinic, then withdraws it; a second approval is refused', async () => {
    const { page } = users.registrar
    await tab(page, 'Clinics')
    await page.getByRole('heading', { name: 'Billing clinics' }).waitFor()
    const clinic = DEV_ACCOUNTS[6].address
    const approve = page.getByRole('button', { name: 'Approve clinic' })
    assert.ok(await approve.isDisabled(), 'nothing to approve without an address')
    await page.getByLabel("Clinic's wallet address").fill(clinic)
    await approve.click()
    await page.getByRole('status').filter({ hasText: 'approved' }).waitFor({ timeout: CHAIN_TIMEOUT })
    assert.match(await page.getByRole('status').filter({ hasText: 'approved' }).innerText(), new RegExp(short(clinic)))
    // The contract refuses an approval that changes nothing; the screen says so in words.
    await approve.click()
    await page.getByText('The clinic was not changed').waitFor({ timeout: CHAIN_TIMEOUT })
    await page.getByRole('button', { name: 'Withdraw approval' }).click()
    await page.getByRole('status').filter({ hasText: 'no longer approved' }).waitFor({ timeout: CHAIN_TIMEOUT })
    await screenshot(page, 'people-01b-registrar-clinics')
    assert.deepEqual(withoutApiNoise(users.registrar.problems), [])
  })

  step('1. the patient sets a display name and lets doctors find them by it', async () => {
    const { page } = await arrive('patient', PATIENT, 'patient', 'My records')
    const names = await tabs(page)
    assert.ok(names.includes('Profile'), `a Profile tab: ${names}`)
    assert.ok(!names.includes('Status'), `no Status tab for patients: ${names}`)
    // The header names the network instead of its chain id.
    assert.match(await page.getByLabel('Wallet').innerText(), /Local test network \(Anvil\)/)
    assert.doesNotMatch(await page.getByLabel('Wallet').innerText(), /chain 31337/)

    await tab(page, 'Profile')
    await page.getByRole('heading', { name: 'Your profile' }).waitFor()
    await page.getByText('Doctors cannot find you by name.').waitFor()
    const save = page.getByRole('button', { name: 'Save profile' })
    // Publishing needs a name: the form says so and will not save.
    await page.getByRole('checkbox', { name: 'Doctors can find me by this name' }).check()
    await page.getByText('Enter a name before letting doctors find you by it.').waitFor()
    assert.ok(await save.isDisabled())
    await page.getByRole('textbox', { name: /^Display name/ }).fill(`  ${PATIENT_NAME}  `)
    await save.click()
    await page.getByRole('status').filter({ hasText: 'Profile saved.' }).waitFor()
    await page.getByText(`Doctors can find you as ${PATIENT_NAME}.`).waitFor()
    await screenshot(page, 'people-02-patient-profile')
  })

  step('2. a doctor finds the patient by part of the name and asks for access', async () => {
    const { page } = await arrive('doctor', DOCTOR.address, 'doctor', 'Find a patient')
    assert.ok(!(await tabs(page)).includes('Status'), 'no Status tab for doctors')
    await page.getByLabel("Patient's name or wallet address").fill('peoplestest')
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    const found = page.getByRole('list', { name: 'Patients found' })
    await found.waitFor()
    assert.equal(await found.getByRole('listitem').count(), 1)
    await found.getByRole('radio', { name: PATIENT_NAME }).check()
    assert.equal((await page.getByLabel("Patient's address").inputValue()).toLowerCase(), PATIENT.toLowerCase())
    // The full address is one hover (title) or one click (copy) away from the short one.
    assert.equal(await found.locator('code.address').getAttribute('title'), PATIENT)
    assert.equal(await found.getByRole('button', { name: 'Copy full address' }).count(), 1)
    await page.getByLabel('Reason (the patient reads this)').fill(REASON)
    // Plain words first; the EIP-712 type only behind "Details".
    const action = page.locator('.sign-action').filter({ hasText: 'Sign access request' })
    assert.match(await action.locator('.sign-explain p').innerText(), /^Signs a message naming this patient\./)
    assert.doesNotMatch(await action.locator('.sign-explain p').innerText(), /RequestAccess|EIP-712/)
    const details = action.locator('.sign-explain details')
    assert.equal(await details.evaluate((element) => element.open), false, 'the type name waits behind Details')
    await details.getByText('Details', { exact: true }).click()
    await details.getByText(/EIP-712 typed-data signature of type “RequestAccess”/).waitFor({ state: 'visible' })
    await page.getByRole('button', { name: `Sign access request to ${PATIENT_NAME} (${short(PATIENT)})` }).click()
    await page.getByRole('status').filter({ hasText: 'Request sent.' }).waitFor({ timeout: CHAIN_TIMEOUT })
    // The doctor's own list names the patient too.
    const mine = page.getByRole('region', { name: 'My requests', exact: true })
    await untilRefreshed('the request named in My requests', mine.getByRole('button', { name: 'Refresh' }), () => mine.getByRole('row').filter({ hasText: PATIENT_NAME }).count())
    await screenshot(page, 'people-03-doctor-found-by-name')
  })

  step("3. the patient's request card names the doctor, with the short address beside the name", async () => {
    const { page } = users.patient
    const card = await requestCard(page, REASON, { timeout: CHAIN_TIMEOUT })
    const heading = await card.getByRole('heading').first().innerText()
    assert.match(heading, new RegExp(`^Request from ${DOCTOR.name.replace('.', '\\.')} ${short(DOCTOR.address)}`, 'i'))
    assert.equal((await card.getByRole('heading').first().locator('code.address').getAttribute('title')).toLowerCase(), DOCTOR.address.toLowerCase())
    // The deny explanation reads without EIP-712 names; they are one "Details" away.
    const deny = card.locator('.sign-action').filter({ hasText: 'Sign denial' })
    assert.match(await deny.locator('.sign-explain p').innerText(), /^Signs an answer: the request is closed and nothing is shared\.$/)
    assert.equal(await deny.locator('.sign-explain details').evaluate((element) => element.open), false)
    assert.match(await deny.locator('.sign-explain details').textContent(), /“DenyAccess”/)
    await screenshot(page, 'people-04-patient-request-named')
    assert.deepEqual(withoutApiNoise(users.patient.problems), [])
  })

  step('4. the doctor sees the name the registrar recorded on their profile', async () => {
    const { page } = users.doctor
    await tab(page, 'Profile')
    const facts = page.locator('dl.facts')
    await facts.getByText(DOCTOR.name, { exact: true }).waitFor()
    await facts.getByText(DOCTOR.licence, { exact: true }).waitFor()
    await facts.getByText('registered doctor').waitFor()
    await screenshot(page, 'people-05-doctor-profile')
    assert.deepEqual(withoutApiNoise(users.doctor.problems), [])
  })
})
