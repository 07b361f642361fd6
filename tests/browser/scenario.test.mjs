// End-to-end scenario in headless Chromium against the real stack (scripts/run_stack.py: Anvil,
// js-ipfs, SecantusDB, the API serving frontend/dist). Roles are played by Anvil dev accounts through
// the harness's injected wallet, each in its own fresh browser profile:
//   patient (#2) uploads a report -> doctor (#1, registered by the stack) requests access ->
//   patient approves 1 day for that record -> doctor opens it (verified) -> patient revokes ->
//   doctor is refused -> patient's audit trail lists the steps.
// The registrar screen is not exercised: the stack's relayer (#9) does not hold REGISTRAR_ROLE, so
// POST /api/admin/doctors answers 503 relayer_not_registrar on the local stack.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DEV_ACCOUNTS, REPO_ROOT, freePort, installWallet, launchBrowser, openPage, screenshot, withoutApiNoise } from './lib/harness.mjs'

const STACK_START_TIMEOUT = 180_000
const UI_TIMEOUT = 30_000
const CHAIN_TIMEOUT = 90_000 // waits that include a mined transaction and the reconciler

const DOCTOR = DEV_ACCOUNTS[1].address
const PATIENT = DEV_ACCOUNTS[2].address
const RECORD_NAME = `Scenario blood test ${Date.now()}`
const REASON = 'Follow-up consultation: please share your latest blood test.'

/** Poll `check` (async, returns truthy when done) until it succeeds or `timeout` passes. */
async function until(what, check, { timeout = UI_TIMEOUT, interval = 250 } = {}) {
  const deadline = Date.now() + timeout
  let last
  for (;;) {
    try {
      const value = await check()
      if (value) return value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`)
    await new Promise((ok) => setTimeout(ok, interval))
  }
}

/** Start scripts/run_stack.py on free ports with a temp data dir; resolves on its ready line. */
async function startStack() {
  const python = [join(REPO_ROOT, '.venv', 'bin', 'python'), 'python3'].find((p) => p === 'python3' || existsSync(p))
  const dataDir = mkdtempSync(join(tmpdir(), 'healthledger-scenario-'))
  const port = await freePort()
  let anvilPort = await freePort()
  while (anvilPort === port) anvilPort = await freePort()
  const child = spawn(python, [join(REPO_ROOT, 'scripts', 'run_stack.py')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      HEALTHLEDGER_DATA_DIR: dataDir,
      PORT: String(port),
      ANVIL_PORT: String(anvilPort),
      HEALTHLEDGER_ENV_FILE: '/dev/null',
      PYTHONUNBUFFERED: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  child.once('exit', () => process.removeListener('exit', killOnExit))
  let output = ''
  child.stderr.on('data', (chunk) => (output += chunk))
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`run_stack.py not ready after ${STACK_START_TIMEOUT} ms:\n${output}`)), STACK_START_TIMEOUT)
    child.stdout.on('data', (chunk) => {
      output += chunk
      const match = output.match(/HealthLedger is running: (http:\/\/\S+)/)
      if (match) {
        clearTimeout(timer)
        resolveUrl(match[1])
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`run_stack.py exited (${code}) before it was ready:\n${output}`))
    })
  })
  return {
    url,
    rpcUrl: `http://127.0.0.1:${anvilPort}`,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((ok) => child.once('exit', ok))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** A fresh browser profile with the wallet holding `account`, connected and signed in. */
async function signedIn(stack, account, role) {
  const browser = await launchBrowser()
  await installWallet(browser.context, { rpcUrl: stack.rpcUrl, account })
  const { page, problems } = await openPage(browser.context)
  page.setDefaultTimeout(UI_TIMEOUT)
  await page.goto(stack.url, { waitUntil: 'load' })
  await page.getByRole('button', { name: 'Connect HealthLedger Test Wallet' }).click()
  await page.getByRole('button', { name: /Sign in \(signs a one-time sign-in text\)/ }).click()
  await page.getByRole('navigation', { name: 'Sections' }).waitFor()
  await page.getByLabel('Wallet').getByText(role, { exact: true }).waitFor()
  return { browser, page, problems }
}

async function tab(page, label) {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: label, exact: true }).click()
}

describe('browser scenario: patient shares a record with a doctor, then revokes', { timeout: 600_000 }, () => {
  // Each step builds on the previous one: after a failure the rest are skipped, not timed out.
  let broken = false
  const step = (name, fn) =>
    it(name, async (t) => {
      if (broken) return t.skip('an earlier step failed')
      try {
        await fn()
      } catch (error) {
        broken = true
        throw error
      }
    })
  let stack
  let patient
  let doctor

  before(async () => {
    stack = await startStack()
  })

  after(async () => {
    await doctor?.browser.close()
    await patient?.browser.close()
    await stack?.stop()
  })

  step('1. patient signs in and uploads a report that is confirmed and verified', async () => {
    patient = await signedIn(stack, PATIENT, 'patient')
    const { page } = patient
    await page.getByRole('heading', { name: 'My records' }).waitFor()
    await screenshot(page, 'scenario-01-patient-records-empty')

    await tab(page, 'Upload')
    await page.getByLabel('File', { exact: true }).setInputFiles({
      name: 'blood-test.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(`HealthLedger scenario report\nHaemoglobin: 14.1 g/dL\nGenerated ${new Date().toISOString()}\n`),
    })
    await page.getByRole('textbox', { name: /^Name/ }).fill(RECORD_NAME)
    await page.getByText('Fingerprint ready').waitFor()
    await page.getByRole('button', { name: /Sign the key message/ }).click()
    await page.getByText('Encryption key unlocked').waitFor()
    await page.getByRole('button', { name: /Sign AddRecord for this file and upload/ }).click()
    await page.getByRole('status').filter({ hasText: 'Stored and anchored' }).waitFor({ timeout: CHAIN_TIMEOUT })
    await screenshot(page, 'scenario-02-patient-uploaded')

    await tab(page, 'My records')
    const row = page.getByRole('row').filter({ hasText: RECORD_NAME })
    await row.getByText(/^confirmed #\d+$/).waitFor({ timeout: CHAIN_TIMEOUT })
    await row.getByRole('button', { name: 'Verify', exact: true }).click()
    await row.getByText('✓ verified').waitFor()
    await screenshot(page, 'scenario-03-patient-record-verified')
    assert.deepEqual(withoutApiNoise(patient.problems), [])
  })

  step('2. doctor signs in, finds the patient by address and requests access', async () => {
    doctor = await signedIn(stack, DOCTOR, 'doctor')
    const { page } = doctor
    await page.getByRole('heading', { name: 'Find a patient' }).waitFor()
    await page.getByLabel('Name, email or wallet address').fill(PATIENT)
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    await until('the patient address in the request form', async () => (await page.getByLabel("Patient's address").inputValue()).toLowerCase() === PATIENT.toLowerCase())
    await page.getByLabel('Reason (the patient reads this)').fill(REASON)
    await page.getByRole('button', { name: /Sign access request to 0x3C44…93BC/ }).click()
    await page.getByRole('status').filter({ hasText: 'Request sent.' }).waitFor({ timeout: CHAIN_TIMEOUT })
    await screenshot(page, 'scenario-04-doctor-requested')
  })

  step('3. patient approves the request for one day, for that record', async () => {
    const { page } = patient
    await tab(page, 'Requests')
    const card = page.getByRole('article').filter({ hasText: REASON })
    await until('the access request to appear', async () => {
      if (await card.count()) return true
      await page.getByRole('button', { name: 'Refresh' }).click()
      return false
    }, { interval: 1000 })
    await card.getByRole('checkbox', { name: new RegExp(RECORD_NAME) }).check()
    await card.getByLabel('For how many days').fill('1')
    // The key was unlocked during the upload (same session); sign it again only if asked.
    const keyButton = card.getByRole('button', { name: /Sign the key message/ })
    if (await keyButton.isVisible()) await keyButton.click()
    const approve = card.getByRole('button', { name: 'Sign approval (1 record(s), 1 day(s))' })
    await screenshot(page, 'scenario-05-patient-request')
    await approve.click()
    await page.getByRole('status').filter({ hasText: 'Approved 1 record(s) for 1 day(s).' }).first().waitFor({ timeout: CHAIN_TIMEOUT })
    await screenshot(page, 'scenario-06-patient-approved')
  })

  step('4. doctor opens the shared record and sees it verified', async () => {
    const { page } = doctor
    await tab(page, 'Authorized records')
    const row = page.getByRole('row').filter({ hasText: RECORD_NAME })
    await until('the shared record in the doctor\'s list', async () => {
      if (await row.count()) return true
      await page.getByRole('button', { name: 'Refresh' }).click()
      return false
    }, { timeout: CHAIN_TIMEOUT, interval: 1000 })
    await row.getByRole('button', { name: 'Open' }).click()
    const result = page.getByRole('status').filter({ hasText: RECORD_NAME })
    await result.waitFor()
    assert.match(await result.innerText(), /Verified against the chain\./)
    await result.getByRole('link', { name: /^Download / }).waitFor()
    await screenshot(page, 'scenario-07-doctor-opened-verified')
  })

  step('5. patient revokes; the doctor is then refused with a clear message', async () => {
    const { page } = patient
    await tab(page, 'Sharing')
    await page.getByLabel("Doctor's address").fill(DOCTOR)
    await page.getByRole('button', { name: 'Sign revocation of all access' }).click()
    await page.getByRole('status').filter({ hasText: 'All access for this doctor revoked.' }).waitFor({ timeout: CHAIN_TIMEOUT })
    await screenshot(page, 'scenario-08-patient-revoked')

    // The doctor's list is still on screen from before: opening the record again is refused.
    const d = doctor.page
    await d.getByRole('row').filter({ hasText: RECORD_NAME }).getByRole('button', { name: 'Open' }).click()
    const refusal = d.getByRole('alert').filter({ hasText: 'Could not open the record' })
    await refusal.waitFor()
    const text = await refusal.innerText()
    assert.match(text, /not allowed to do this: you have no live approval for this record/, `refusal message: ${text}`)
    assert.equal(await d.getByText('Verified against the chain.').count(), 0, 'the earlier verified result is no longer shown')
    await screenshot(d, 'scenario-09-doctor-refused')
    console.log(`doctor refusal message: ${JSON.stringify(text)}`)

    // A refresh no longer lists the record for the doctor.
    await d.getByRole('button', { name: 'Refresh' }).click()
    await until('the revoked record to leave the doctor\'s list', async () => (await d.getByRole('row').filter({ hasText: RECORD_NAME }).count()) === 0, {
      timeout: CHAIN_TIMEOUT,
      interval: 1000,
    })
  })

  step('6. patient audit trail lists upload, request, approval, view and revocation', async () => {
    const { page } = patient
    await tab(page, 'Audit trail')
    const table = page.getByRole('table')
    const steps = [/RecordAdded \(records \d+\)/, /AccessRequested/, /AccessApproved \(records \d+\)/, /RecordViewed/, /AccessRevoked/]
    await until('the audit trail to list every step', async () => {
      const text = (await table.count()) ? await table.innerText() : ''
      if (steps.every((re) => re.test(text))) return true
      await page.getByRole('button', { name: 'Refresh' }).click()
      return false
    }, { timeout: CHAIN_TIMEOUT, interval: 1000 })
    const text = await table.innerText()
    console.log(`audit trail:\n${text}`)
    assert.match(text, /0x7099…79C8/, 'the doctor appears in the trail')
    await screenshot(page, 'scenario-10-patient-audit')
    assert.deepEqual(withoutApiNoise(patient.problems), [])
    assert.deepEqual(withoutApiNoise(doctor.problems), [])
  })
})
