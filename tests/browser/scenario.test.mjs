// End-to-end scenario in headless Chromium against the real stack (scripts/run_stack.py: Anvil,
// js-ipfs, SecantusDB, the API serving frontend/dist). Roles are played by Anvil dev accounts through
// the harness's injected wallet, each in its own fresh browser profile:
//   registrar (#0) registers a doctor (#3) -> patient (#2) uploads a report -> the doctor requests
//   access -> patient approves 1 day for that record (signing ApproveRecords) -> doctor opens it
//   (verified) -> doctor asks for 2 more days, patient accepts -> patient revokes, then accepts the
//   offer to cancel unsent signatures -> doctor is refused -> patient gives the doctor write access,
//   the doctor sees it, the patient takes it back -> the patient's audit trail, and the
//   registrar's, list the steps. The patient's and the doctor's first sign-in set up their encryption
//   key (two explained wallet prompts); signing in again asks for the sign-in text only.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe } from 'node:test'
import { DEV_ACCOUNTS, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { grantWriteAccess, holdLiveUpdates, region, registerDoctor, requestAccess, requestCard, sharedRecordRow } from './lib/journeys.mjs'
import { CHAIN_TIMEOUT, chooseFile, keySetupSettled, signIn, tab, until, untilRefreshed } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const HEALTHLEDGER_CLI = fileURLToPath(new URL('../../.venv/bin/healthledger', import.meta.url))

const REGISTRAR = DEV_ACCOUNTS[0].address
const DOCTOR = DEV_ACCOUNTS[3].address
const DOCTOR_NAME = 'Dr. Ada Scenario'
const PATIENT = DEV_ACCOUNTS[2].address
const RECORD_NAME = `Scenario blood test ${Date.now()}`
const REASON = 'Follow-up consultation: please share your latest blood test.'

/** The primary type of the last EIP-712 message `user`'s wallet signed. */
function lastSignedType(user) {
  const signed = user.wallet.requests.filter((r) => r.method === 'eth_signTypedData_v4').at(-1)
  return signed ? JSON.parse(signed.params[1]).primaryType : null
}

/**
 * Wallet options that note, at each signature prompt, what it asked for (the text's first line or the
 * EIP-712 primary type) and what the key-setup card said on the page at that moment.
 */
function promptWatch() {
  const watch = { page: null, prompts: [] }
  watch.intercept = async (method, params) => {
    if (!watch.page || (method !== 'personal_sign' && method !== 'eth_signTypedData_v4')) return undefined
    const what = method === 'personal_sign' ? Buffer.from(params[0].slice(2), 'hex').toString('utf8').split('\n')[0] : JSON.parse(params[1]).primaryType
    const card = watch.page.locator('[data-key-setup]')
    watch.prompts.push({ what, shown: (await card.count()) ? await card.innerText() : '' })
    return undefined // the wallet then signs as usual
  }
  return watch
}

/** The HTTP status of the page's own signed-in GET /api/keys/{address}. */
const keyLookup = (page, address) =>
  page.evaluate(async (account) => {
    const { accessToken } = JSON.parse(sessionStorage.getItem('healthledger.session'))
    return (await fetch(`/api/keys/${account}`, { headers: { Authorization: `Bearer ${accessToken}` } })).status
  }, address)

/** A first sign-in set up the key: two prompts, each explained on the page before it opened; the API serves the key. */
async function assertKeySetUp(user, address) {
  assert.equal(await keySetupSettled(user.page), 'present')
  const keyPrompts = user.prompts.filter((p) => /^HealthLedger key derivation/.test(p.what) || p.what === 'EncryptionKey')
  assert.equal(keyPrompts.length, 2, `two key prompts: ${JSON.stringify(keyPrompts.map((p) => p.what))}`)
  assert.equal(keyPrompts[1].what, 'EncryptionKey')
  assert.match(keyPrompts[0].shown, /Step 1 of 2\..*free and not a transaction.*only you can open them/s)
  assert.match(keyPrompts[1].shown, /Step 2 of 2\..*EncryptionKey.*not a transaction/s)
  await user.page.getByRole('status').filter({ hasText: 'Encryption key set up' }).waitFor()
  assert.equal(await keyLookup(user.page, address), 200)
}

/** Sign out and in again: the wallet is asked for the sign-in text only, the key is already there. */
async function signInAgainAsksOnlyToSignIn(user, role) {
  const before = user.wallet.requests.length
  await user.page.getByRole('button', { name: 'Sign out' }).click()
  await signIn(user.page, role)
  const asked = user.wallet.requests.slice(before).filter((r) => r.method === 'personal_sign' || r.method === 'eth_signTypedData_v4')
  assert.deepEqual(asked.map((r) => r.method), ['personal_sign'], 'the second sign-in asks for the sign-in text only')
  assert.equal(await keySetupSettled(user.page), 'present')
  assert.equal(await user.page.getByText('Encryption key set up').count(), 0, 'no setup ran this time')
}

/** Open the Audit trail tab and refresh it until its table matches every one of `steps`; the table's text. */
async function auditTrailListing(page, what, steps) {
  await tab(page, 'Audit trail')
  const table = page.getByRole('table')
  await untilRefreshed(what, page.getByRole('button', { name: 'Refresh' }), async () => {
    const text = (await table.count()) ? await table.innerText() : ''
    return steps.every((re) => re.test(text))
  }, { timeout: CHAIN_TIMEOUT })
  return table.innerText()
}

describe('browser scenario: patient shares a record with a doctor, then revokes', { timeout: 600_000 }, () => {
  // Each step builds on the previous one: after a failure the rest are skipped, not timed out, and
  // what each role's page showed is kept (test-artifacts/browser/scenario-failed-<role>.png).
  const suite = useStack('scenario')
  const { step } = suite
  let registrar
  let patient
  let doctor

  /** Sign `account` in as `role` in a fresh profile and wait for its workspace's `heading`; `prompts` lists its signature prompts. */
  async function arrive(role, account, heading) {
    const watch = promptWatch()
    const user = await suite.connect(role, account, { intercept: watch.intercept })
    watch.page = user.page
    await suite.signInAs(role, role, heading)
    return { ...user, prompts: watch.prompts }
  }

  step('0. registrar registers the doctor in the on-chain registry', async () => {
    registrar = await arrive('registrar', REGISTRAR, 'Doctor registry')
    const { page } = registrar
    await registerDoctor(page, { address: DOCTOR, name: DOCTOR_NAME, licence: 'GMC-7654321' })
    await page.getByLabel('Find registered doctors').fill('Ada')
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    await page.getByRole('listitem').filter({ hasText: DOCTOR_NAME }).waitFor()
    await screenshot(page, 'scenario-00-registrar-registered-doctor')
    assert.deepEqual(registrar.prompts.map((p) => p.what).filter((w) => !/wants you to sign in/.test(w)), [], 'registrars set up no key')
    assert.equal(await page.locator('[data-key-setup]').count(), 0)
    assert.deepEqual(withoutApiNoise(registrar.problems), [])
  })

  step('1. patient signs in and uploads a report that is confirmed and verified', async () => {
    patient = await arrive('patient', PATIENT, 'My records')
    const { page } = patient
    await assertKeySetUp(patient, PATIENT)
    await screenshot(page, 'scenario-01-patient-key-set-up')
    await signInAgainAsksOnlyToSignIn(patient, 'patient')
    await screenshot(page, 'scenario-01-patient-records-empty')

    await tab(page, 'Upload')
    await chooseFile(page, {
      name: RECORD_NAME,
      fileName: 'blood-test.txt',
      buffer: Buffer.from(`HealthLedger scenario report\nHaemoglobin: 14.1 g/dL\nGenerated ${new Date().toISOString()}\n`),
    })
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

    // Opened, the browser re-checks SHA-256(salt ‖ file) itself; the verification bundle it downloads
    // checks out against the chain with the CLI and nothing but the RPC URL.
    await row.getByRole('button', { name: 'Open' }).click()
    const preview = page.getByRole('region', { name: RECORD_NAME })
    await preview.getByText('✓ re-checked in your browser').waitFor()
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      preview.getByRole('button', { name: 'Download verification bundle' }).click(),
    ])
    const bundlePath = await download.path()
    const bundle = JSON.parse(readFileSync(bundlePath, 'utf8'))
    assert.match(bundle.salt, /^0x[0-9a-f]{64}$/, 'the bundle carries the salt the browser drew')
    assert.match(download.suggestedFilename(), /\.bundle\.json$/)
    const verdict = execFileSync(HEALTHLEDGER_CLI, ['verify-bundle', bundlePath, '--rpc-url', suite.stack.rpcUrl], { encoding: 'utf8' })
    assert.match(verdict, /^VERIFIED: record \d+ of 0x[0-9a-fA-F]{40} on chain 31337/)
    assert.deepEqual(withoutApiNoise(patient.problems), [])
  })

  step('2. doctor signs in, finds the patient by address and requests access', async () => {
    doctor = await arrive('doctor', DOCTOR, 'Find a patient')
    const { page } = doctor
    await assertKeySetUp(doctor, DOCTOR)
    await signInAgainAsksOnlyToSignIn(doctor, 'doctor')
    await page.getByRole('heading', { name: 'Find a patient' }).waitFor()
    await requestAccess(page, { patient: PATIENT, reason: REASON, button: /Sign access request to 0x3C44…93BC/ })
    const mine = page.getByRole('region', { name: 'My requests' }).getByRole('row').filter({ hasText: REASON })
    await mine.getByText('waiting for the patient').waitFor()
    await screenshot(page, 'scenario-04-doctor-requested')
  })

  step('3. patient approves the request for one day, for that record', async () => {
    const { page } = patient
    const card = await requestCard(page, REASON, { what: 'the access request to appear' })
    assert.match(await card.innerText(), new RegExp(`${DOCTOR_NAME}.*registered doctor`), 'the request names the doctor and their registry status')
    await card.getByRole('checkbox', { name: new RegExp(RECORD_NAME) }).check()
    await card.getByLabel('For how many days').fill('1')
    // The key was unlocked during the upload (same session); sign it again only if asked.
    const keyButton = card.getByRole('button', { name: /Sign the key message/ })
    if (await keyButton.isVisible()) await keyButton.click()
    const approve = card.getByRole('button', { name: 'Sign approval (1 record(s), 1 day(s))' })
    await screenshot(page, 'scenario-05-patient-request')
    await approve.click()
    await page.getByRole('status').filter({ hasText: 'Approved 1 record(s) for 1 day(s).' }).first().waitFor({ timeout: CHAIN_TIMEOUT })
    assert.equal(lastSignedType(patient), 'ApproveRecords', 'the approval is a bitmap approval (approveRecords)')
    await screenshot(page, 'scenario-06-patient-approved')
  })

  step('4. doctor opens the shared record and sees it verified', async () => {
    const { page } = doctor
    const mine = page.getByRole('region', { name: 'My requests' }).getByRole('row').filter({ hasText: REASON })
    const refreshRequests = page.getByRole('region', { name: 'My requests' }).getByRole('button', { name: 'Refresh' })
    await untilRefreshed('the request to show as approved', refreshRequests, () => mine.getByText('approved', { exact: true }).count())
    await tab(page, 'Authorized records')
    const row = await sharedRecordRow(page, RECORD_NAME)
    await row.getByRole('button', { name: 'Open' }).click()
    const result = page.getByRole('status').filter({ hasText: RECORD_NAME })
    await result.waitFor()
    assert.match(await result.innerText(), /Verified against the chain\./)
    await result.getByRole('link', { name: /^Download / }).waitFor()
    await screenshot(page, 'scenario-07-doctor-opened-verified')
  })

  step('5. doctor asks for two more days; the patient sees it under Sharing and accepts', async () => {
    const d = doctor.page
    const article = d.getByRole('article').filter({ hasText: RECORD_NAME })
    await article.getByLabel('Extra days').fill('2')
    await article.getByRole('button', { name: /Sign extension request \(\+2 days\)/ }).click()
    await article.getByRole('status').filter({ hasText: 'Extension requested' }).waitFor({ timeout: CHAIN_TIMEOUT })

    const { page } = patient
    await tab(page, 'Sharing')
    const card = page.getByRole('article', { name: `Shared with ${DOCTOR_NAME}` })
    const asked = card.getByText(`${DOCTOR_NAME} asks for 2 day(s) more`)
    await untilRefreshed('the extension request on the sharing card', region(page, 'Sharing').getByRole('button', { name: 'Refresh' }), () => asked.count(), {
      timeout: CHAIN_TIMEOUT,
    })
    assert.match(await card.innerText(), new RegExp(RECORD_NAME), 'the card lists the shared record')
    assert.match(await card.innerText(), /registered doctor/)
    await screenshot(page, 'scenario-08-patient-sharing-extension-asked')
    await card.getByRole('button', { name: /Sign extension approval \(\+2 day\(s\)\)/ }).click()
    await page.getByRole('status').filter({ hasText: `Access for ${DOCTOR_NAME} extended by 2 day(s).` }).waitFor({ timeout: CHAIN_TIMEOUT })
    await card.getByText(/asks for .* more/).waitFor({ state: 'detached' })
    // One day approved plus two: the countdown now shows more than two days left.
    assert.match(await card.getByText(/ left$/).innerText(), /^(2 d 2[0-3] h|3 d 0 h) left$/)
  })

  step('6. patient revokes everything, cancels unsent signatures when offered; the doctor is then refused with a clear message', async () => {
    const { page } = patient
    // The doctor's page updates live (live.test.mjs); its poll is held back here so the list stays as
    // it was and opening the revoked record shows the refusal (as after a lost connection).
    const resumeLiveUpdates = await holdLiveUpdates(doctor.page)
    const card = page.getByRole('article', { name: `Shared with ${DOCTOR_NAME}` })
    await card.getByRole('button', { name: `Sign revocation of everything shared with ${DOCTOR_NAME}` }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke everything', exact: true }).click() // the confirmation
    await page.getByRole('status').filter({ hasText: `All access for ${DOCTOR_NAME} revoked.` }).waitFor({ timeout: CHAIN_TIMEOUT })
    await card.waitFor({ state: 'detached' })
    await page.getByText('You are not sharing any record right now.').waitFor()
    // The offer to cancel signatures made but never sent: accepted, it signs InvalidateNonce and is relayed.
    const offer = page.getByRole('region', { name: 'Cancel unsent signatures' })
    assert.match(await offer.innerText(), new RegExp(`You revoked all access for ${DOCTOR_NAME}`))
    await screenshot(page, 'scenario-09-patient-revoked-offer')
    await offer.getByRole('button', { name: /Cancel anything I signed but was not sent/ }).click()
    await page.getByRole('status').filter({ hasText: 'Pending signatures cancelled' }).waitFor({ timeout: CHAIN_TIMEOUT })
    assert.equal(lastSignedType(patient), 'InvalidateNonce')
    await screenshot(page, 'scenario-09-patient-revoked')

    // The doctor's list is still on screen from before: opening the record again is refused.
    const d = doctor.page
    await d.getByRole('row').filter({ hasText: RECORD_NAME }).getByRole('button', { name: 'Open' }).click()
    const refusal = d.getByRole('alert').filter({ hasText: 'Could not open the record' })
    await refusal.waitFor()
    const text = await refusal.innerText()
    assert.match(text, /not allowed to do this: you have no live approval for this record/, `refusal message: ${text}`)
    assert.equal(await d.getByText('Verified against the chain.').count(), 0, 'the earlier verified result is no longer shown')
    await screenshot(d, 'scenario-10-doctor-refused')
    console.log(`doctor refusal message: ${JSON.stringify(text)}`)

    // Live updates back: the record leaves the doctor's list without a refresh.
    await resumeLiveUpdates()
    await until('the revoked record to leave the doctor\'s list', async () => (await d.getByRole('row').filter({ hasText: RECORD_NAME }).count()) === 0, {
      timeout: CHAIN_TIMEOUT,
      interval: 1000,
    })
  })

  step('7. patient lets the doctor add records; the doctor sees it; the patient takes it back', async () => {
    const { page } = patient
    const write = region(page, 'Write access')
    await write.getByText('No doctor can add records to your vault.').waitFor()
    await grantWriteAccess(write, { search: 'Ada', doctor: DOCTOR_NAME, shortAddress: '0x90F7…b906', days: 3 })
    assert.equal(lastSignedType(patient), 'ApproveWrite')
    const row = write.getByRole('row').filter({ hasText: DOCTOR_NAME })
    await untilRefreshed('the write grant in the list', write.getByRole('button', { name: 'Refresh' }), () => row.count(), { timeout: CHAIN_TIMEOUT })
    assert.match(await row.innerText(), /(2 d 23 h|3 d 0 h) left/)
    await screenshot(page, 'scenario-12-patient-write-granted')

    const d = doctor.page
    const vaults = region(d, 'Patients who let you add records')
    const patientRow = vaults.getByRole('row').filter({ hasText: '0x3C44…93BC' })
    await untilRefreshed("the patient in the doctor's write list", vaults.getByRole('button', { name: 'Refresh' }), () => patientRow.count(), {
      timeout: CHAIN_TIMEOUT,
    })
    await screenshot(d, 'scenario-13-doctor-may-write')

    await row.getByRole('button', { name: `Revoke write access of ${DOCTOR_NAME}` }).click()
    await patient.page.getByRole('dialog').getByRole('button', { name: 'Revoke write access', exact: true }).click() // the confirmation
    await write.getByRole('status').filter({ hasText: `Write access of ${DOCTOR_NAME} revoked.` }).waitFor({ timeout: CHAIN_TIMEOUT })
    assert.equal(lastSignedType(patient), 'RevokeWrite')
    await write.getByText('No doctor can add records to your vault.').waitFor()
    // The cancel offer follows this revocation too; declining it sends nothing.
    const signedBefore = patient.wallet.requests.length
    await write.getByRole('region', { name: 'Cancel unsent signatures' }).getByRole('button', { name: 'No, thanks' }).click()
    await write.getByRole('region', { name: 'Cancel unsent signatures' }).waitFor({ state: 'detached' })
    assert.equal(patient.wallet.requests.length, signedBefore, 'declining the offer asks the wallet for nothing')

    await untilRefreshed("the patient to leave the doctor's write list", vaults.getByRole('button', { name: 'Refresh' }),
      async () => (await vaults.getByText('No patient has given you write access.').count()) > 0, { timeout: CHAIN_TIMEOUT })
  })

  step('8. patient audit trail lists upload, request, approval, view, revocation, cancellation and write access in plain words', async () => {
    const { page } = patient
    // Sentences with names: "You" for the patient, the doctor by profile name, the record by its name.
    const steps = [
      new RegExp(`You added ${RECORD_NAME} \\(report\\)`),
      /Dr\. Ada Scenario asked for access: “Follow-up consultation/,
      new RegExp(`You shared ${RECORD_NAME} with Dr\\. Ada Scenario until .*RecordsApproved`),
      new RegExp(`Dr\\. Ada Scenario viewed ${RECORD_NAME}`),
      /Dr\. Ada Scenario asked for 2 more days.*ExtensionRequested/,
      /You extended the access of Dr\. Ada Scenario until .*ExtensionApproved/,
      /You stopped sharing all records with Dr\. Ada Scenario/,
      /You cancelled your pending signatures/,
      /You allowed Dr\. Ada Scenario to add records until .*WriteApproved/,
      /You took back the permission of Dr\. Ada Scenario to add records/,
    ]
    const text = await auditTrailListing(page, 'the audit trail to list every step', steps)
    console.log(`audit trail:\n${text}`)
    assert.doesNotMatch(text, /0x90F7…b906/, 'the doctor is named, never a bare address')
    await screenshot(page, 'scenario-14-patient-audit')
    assert.deepEqual(withoutApiNoise(patient.problems), [])
    assert.deepEqual(withoutApiNoise(doctor.problems), [])
  })

  step("9. registrar's audit trail covers every patient and shows this one's steps", async () => {
    const { page } = registrar
    const steps = [/RecordAdded/, /AccessRequested/, /RecordsApproved/, /RecordViewed/, /AccessRevoked/, /NonceInvalidated/, /WriteApproved/, /WriteRevoked/]
    const text = await auditTrailListing(page, "the registrar's audit trail to list every step", steps)
    assert.match(text, /0x3C44…93BC/, 'each entry names its patient')
    assert.match(await page.getByText(/event\(s\) across \d+ patient\(s\)/).innerText(), /across 1 patient/)
    await screenshot(page, 'scenario-15-registrar-audit')
    assert.deepEqual(withoutApiNoise(registrar.problems), [])
  })
})
