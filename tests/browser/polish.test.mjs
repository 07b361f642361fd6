// Honest progress and plain language, in headless Chromium against the real stack with CONFIRMATIONS=2
// (so a transaction needs its block and 2 more): a patient uploads a file -> the progress says
// "Confirming (1 of 3)", then "(2 of 3)" as blocks are mined (the count comes from the server's
// GET /api/system/transactions/{hash}, not a guess) -> done, "Confirmed by 3 of 3 block(s)". The
// upload's signing explanation is in plain words, the EIP-712 type name behind "Details".
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { before, describe } from 'node:test'
import { DEV_ACCOUNTS, rpc, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { CHAIN_TIMEOUT, chooseFile, tab, until } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const PATIENT = DEV_ACCOUNTS[6].address

describe('browser: honest progress (confirming n of m) and plain signing words', { timeout: 600_000 }, () => {
  const suite = useStack('polish', { env: { CONFIRMATIONS: '2' } })
  let user

  before(async () => {
    user = await suite.arrive('patient', PATIENT, 'patient')
  })

  suite.step('the upload explains the signature in plain words, the EIP-712 name behind Details', async () => {
    const { page } = user
    await tab(page, 'Upload')
    await page.getByText('Encryption key unlocked').waitFor()
    const explain = page.locator('.upload-actions .sign-explain')
    const main = await explain.locator('p').first().innerText()
    assert.doesNotMatch(main, /EIP-712|“AddRecord”/, `plain words in the main text: ${main}`)
    assert.match(main, /Your wallet signs one authorisation per file/)
    await explain.getByText('Details', { exact: true }).click()
    assert.match(await explain.locator('details').innerText(), /EIP-712 typed-data signature of type “AddRecord”/)
  })

  suite.step('an upload shows the true confirmations out of those the server waits for', async () => {
    const { page } = user
    await chooseFile(page, { name: 'Blood test', fileName: 'blood-test.txt', buffer: Buffer.from(`Blood test ${Date.now()}\n`) })
    await page.getByRole('button', { name: /Sign AddRecord for this file and upload/ }).click()
    const progress = page.getByRole('list', { name: 'Progress of blood-test.txt' })
    await progress.getByText('Confirming (1 of 3)').waitFor({ timeout: CHAIN_TIMEOUT })
    await screenshot(page, 'polish-01-confirming-1-of-3')
    await rpc(suite.stack.rpcUrl, 'evm_mine')
    await progress.getByText('Confirming (2 of 3)').waitFor()
    await rpc(suite.stack.rpcUrl, 'evm_mine')
    const stored = page.getByRole('status').filter({ hasText: 'Stored and anchored' })
    await stored.waitFor({ timeout: CHAIN_TIMEOUT })
    assert.match(await stored.innerText(), /Confirmed by 3 of 3 block\(s\)\./)
    await screenshot(page, 'polish-02-confirmed-3-of-3')
    await until('no upload running', async () => (await page.locator('.upload-live').count()) === 0)
    assert.deepEqual(withoutApiNoise(user.problems), [])
  })
})
