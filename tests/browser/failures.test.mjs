// What a patient meets when something goes wrong, in headless Chromium against the real stack: a
// wallet on another network, a signature they decline, an upload the server refuses. Each case must
// show a clear message, leave nothing half done (no record stored, nothing anchored, no nonce spent),
// and let the same form succeed once the cause is gone. (No wallet at all: see smoke.test.mjs.)
// Needs frontend/dist, /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEV_ACCOUNTS, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { CHAIN_TIMEOUT, chooseFile, signIn, tab } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const UPLOAD_LIMIT = 256 * 1024 // MAX_UPLOAD_BYTES for this stack, so a too-large file stays small
const DECLINED = 'You declined the request in your wallet. Nothing was signed or sent.'
const UPLOAD_CALL = 'POST /api/medical-records/upload'

const smallReport = (label) => Buffer.from(`HealthLedger ${label}\nCreated ${new Date().toISOString()}\n`)

/** The records table shows nothing for this patient (the database holds no record, pending or not). */
async function assertNoRecords(page) {
  await tab(page, 'My records')
  await page.getByText('No records yet. Upload one to get started.').waitFor()
}

/** Upload what the form holds and wait until it is anchored as record #0 (so nothing was before it). */
async function uploadSucceedsAsFirstRecord(page, name) {
  await page.getByRole('button', { name: /Sign AddRecord for this file and upload/ }).click()
  await page.getByRole('status').filter({ hasText: 'Stored and anchored' }).waitFor({ timeout: CHAIN_TIMEOUT })
  assert.match(await page.getByRole('status').filter({ hasText: 'Stored and anchored' }).innerText(), new RegExp(`“${name}”.* as record #0\\.`))
}

describe('browser failures: clear messages, nothing half done', { timeout: 600_000 }, () => {
  // Independent cases (plain tests, not steps), one fresh profile each.
  const suite = useStack('failure', { env: { MAX_UPLOAD_BYTES: String(UPLOAD_LIMIT) } })

  it('wrong network: explains it, signs nothing for the wrong chain, and works after switching', async () => {
    const user = await suite.connect('wrong-chain', DEV_ACCOUNTS[4].address, { chainId: 1 })
    const { page, wallet } = user

    const banner = page.getByRole('status').filter({ hasText: 'Your wallet is on another network' })
    await banner.waitFor()
    assert.match(await banner.innerText(), /HealthLedger runs on Local test network \(Anvil\); your wallet is on Ethereum\./)
    assert.match(await page.locator('header').innerText(), /\bEthereum\b/)
    await screenshot(page, 'failure-wrong-chain-banner')

    // Declining the switch keeps the wallet where it was and says so.
    wallet.declineNext('wallet_switchEthereumChain')
    await banner.getByRole('button', { name: /^Switch network to / }).click()
    await banner.getByRole('alert').filter({ hasText: 'Could not switch network' }).waitFor()
    assert.ok((await banner.getByRole('alert').innerText()).includes(DECLINED), 'says the request was declined')
    assert.equal(wallet.walletChainId(), '0x1')

    // Sign-in text is not chain-bound; the record authorisation is, so the app refuses to ask for it.
    await signIn(page, 'patient')
    await tab(page, 'Upload')
    await chooseFile(page, { name: 'Wrong network report', buffer: smallReport('wrong network') })
    // The key message signed during the key setup at sign-in (not chain-bound) unlocks the key for this session.
    await page.getByText('Encryption key unlocked').waitFor()
    await page.getByRole('button', { name: /Sign AddRecord for this file and upload/ }).click()
    const failure = page.getByRole('alert').filter({ hasText: 'The upload did not complete' })
    await failure.waitFor()
    assert.match(await failure.innerText(), /Your wallet is on Ethereum, but this signature is for Local test network \(Anvil\)\. Use "Switch network" above, then try again\./)
    assert.equal(wallet.requests.filter((r) => r.method === 'eth_signTypedData_v4').length, 0, 'nothing was put to the wallet to sign')
    assert.ok(!user.apiCalls.includes(UPLOAD_CALL), 'the file was not sent')
    await screenshot(page, 'failure-wrong-chain-upload-refused')

    // Switching clears the warning; the same form then uploads.
    await banner.getByRole('button', { name: /^Switch network to / }).click()
    await banner.waitFor({ state: 'detached' })
    assert.match(await page.locator('header').innerText(), /Local test network \(Anvil\)/)
    await uploadSucceedsAsFirstRecord(page, 'Wrong network report')

    // The key setup at sign-in stopped at the same network check (its binding was never put to the
    // wallet), asked once only, and left a notice whose button sets the key up now, asking only for
    // the binding: the session keeps the key signature it already has.
    const keyMessages = () => wallet.requests.filter((r) => r.method === 'personal_sign' && /^HealthLedger key derivation/.test(Buffer.from(r.params[0].slice(2), 'hex').toString())).length
    assert.equal(keyMessages(), 1, 'the key message was asked for once, at sign-in')
    const keyNotice = page.getByRole('status').filter({ hasText: 'Your encryption key is not set up' })
    assert.match(await keyNotice.innerText(), /Your wallet is on Ethereum, but this signature is for Local test network \(Anvil\)/)
    await keyNotice.getByRole('button', { name: 'Set up encryption key' }).click()
    await page.getByRole('status').filter({ hasText: 'Encryption key set up' }).waitFor()
    assert.equal(keyMessages(), 1, 'one key signature per session: the retry asked for the binding only')
    assert.deepEqual(withoutApiNoise(user.problems), [])
  })

  it('declined signatures: sign-in, key message and record authorisation each stop cleanly', async () => {
    // The wallet declines the key message twice (at the key setup after sign-in, then on the upload
    // screen), then signs it.
    let keyDeclines = 2
    const intercept = async (method, params) => {
      const isKeyMessage = method === 'personal_sign' && /^HealthLedger key derivation/.test(Buffer.from(params[0].slice(2), 'hex').toString())
      if (!isKeyMessage || keyDeclines === 0) return undefined
      keyDeclines -= 1
      return { error: { code: 4001, message: 'User rejected the request.' } }
    }
    const user = await suite.connect('declined', DEV_ACCOUNTS[5].address, { intercept })
    const { page, wallet } = user

    wallet.declineNext('personal_sign')
    await page.getByRole('button', { name: /Sign in \(signs a one-time sign-in text\)/ }).click()
    const signInFailure = page.getByRole('alert').filter({ hasText: 'Sign-in failed' })
    await signInFailure.waitFor()
    assert.ok((await signInFailure.innerText()).includes(DECLINED), 'says the request was declined')
    assert.ok(!user.apiCalls.includes('POST /api/auth/login'), 'no login was attempted')
    assert.equal(await page.getByRole('navigation', { name: 'Sections' }).count(), 0, 'still signed out')
    await screenshot(page, 'failure-declined-sign-in')

    await signIn(page, 'patient')
    // Declined at the key setup: a notice offers to set it up later; nothing was registered.
    const keyNotice = page.getByRole('status').filter({ hasText: 'Your encryption key is not set up' })
    assert.ok((await keyNotice.innerText()).includes(DECLINED), 'the key setup says the request was declined')
    assert.ok(!user.apiCalls.includes('PUT /api/keys'), 'no key was registered')
    await tab(page, 'Upload')
    await chooseFile(page, { name: 'Declined report', buffer: smallReport('declined') })

    await page.getByRole('button', { name: /Sign the key message/ }).click()
    const keyFailure = page.getByRole('alert').filter({ hasText: 'The key message was not signed' })
    await keyFailure.waitFor()
    assert.ok((await keyFailure.innerText()).includes(DECLINED), 'says the request was declined')
    assert.ok(await page.getByRole('button', { name: /Sign AddRecord for this file and upload/ }).isDisabled(), 'no upload without the key')
    await page.getByRole('button', { name: /Sign the key message/ }).click()
    await page.getByText('Encryption key unlocked').waitFor()

    wallet.declineNext('eth_signTypedData_v4')
    await page.getByRole('button', { name: /Sign AddRecord for this file and upload/ }).click()
    const uploadFailure = page.getByRole('alert').filter({ hasText: 'The upload did not complete' })
    await uploadFailure.waitFor()
    assert.ok((await uploadFailure.innerText()).includes(DECLINED), 'says the request was declined')
    assert.ok(!user.apiCalls.includes(UPLOAD_CALL), 'the file was not sent')
    await screenshot(page, 'failure-declined-record-signature')

    // The form kept the file and name; signing this time uploads it as the first record.
    await uploadSucceedsAsFirstRecord(page, 'Declined report')
    assert.deepEqual(withoutApiNoise(user.problems), [])
  })

  it('failed upload: a file over the limit is refused, nothing is stored, and a retry works', async () => {
    const user = await suite.arrive('too-large', DEV_ACCOUNTS[6].address, 'patient')
    const { page } = user

    await tab(page, 'Upload')
    await chooseFile(page, { name: 'Too large scan', fileName: 'scan.txt', buffer: Buffer.alloc(UPLOAD_LIMIT + 1, 'x') })
    // Unlocked by the key setup at sign-in: one key signature per session.
    await page.getByText('Encryption key unlocked').waitFor()
    await page.getByRole('button', { name: /Sign AddRecord for this file and upload/ }).click()
    const failure = page.getByRole('alert').filter({ hasText: 'The upload did not complete' })
    await failure.waitFor({ timeout: CHAIN_TIMEOUT })
    assert.match(await failure.innerText(), new RegExp(`The file is too large: file exceeds the ${UPLOAD_LIMIT} byte limit`))
    assert.ok(user.apiCalls.includes(UPLOAD_CALL), 'the upload did reach the server')
    await screenshot(page, 'failure-upload-too-large')

    await assertNoRecords(page)

    // Same session, a file within the limit: it becomes record #0, so nothing was anchored before.
    await tab(page, 'Upload')
    await chooseFile(page, { name: 'Smaller scan', buffer: smallReport('retry') })
    await uploadSucceedsAsFirstRecord(page, 'Smaller scan')
    assert.deepEqual(withoutApiNoise(user.problems), [])
  })
})
