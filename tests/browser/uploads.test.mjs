// Uploads like people expect, in headless Chromium against the real stack (scripts/run_stack.py:
// Anvil, js-ipfs, SecantusDB, the API serving frontend/dist), with the harness's injected wallet:
//   a patient drops two files at once -> each gets a suggested type -> one click signs and uploads
//   both, one AddRecord signature each, in nonce order -> while the first is held on its way to the
//   server, the button says "Sending…" (not "Waiting for your wallet…"), the bar sits beside it in
//   the window, leaving the page is warned about, and a tab change and back still shows it -> both
//   land -> adding the same file again warns "you added this on …" before anything is signed.
// Needs frontend/dist (npm --prefix frontend run build), /usr/bin/chromium, .venv with the backend.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { DEV_ACCOUNTS, screenshot, withoutApiNoise } from './lib/harness.mjs'
import { awayFromUploadAndBack, holdFirstRequest } from './lib/journeys.mjs'
import { CHAIN_TIMEOUT, tab, until } from './lib/stack.mjs'
import { useStack } from './lib/suite.mjs'

const PATIENT = DEV_ACCOUNTS[5].address
const STAMP = Date.now()
const FILES = [
  { name: `invoice-march-${STAMP}.txt`, text: `Invoice ${STAMP}\nConsultation: 80 EUR\n`, type: 'bill' },
  { name: `rx-amoxicillin-${STAMP}.txt`, text: `Prescription ${STAMP}\nAmoxicillin 500 mg, 3x daily\n`, type: 'prescription' },
]
const UPLOAD_PATH = '/api/medical-records/upload'

const typedDataPrompts = (user) => user.wallet.requests.filter((r) => r.method === 'eth_signTypedData_v4').length

/** Drop `files` ({name, text}) on the drop zone at once, as a person dragging them from their desktop. */
async function dropFiles(page, files) {
  const dataTransfer = await page.evaluateHandle((list) => {
    const transfer = new DataTransfer()
    for (const file of list) transfer.items.add(new File([file.text], file.name, { type: 'text/plain' }))
    return transfer
  }, files)
  await page.getByTestId('dropzone').dispatchEvent('drop', { dataTransfer })
}

describe('browser: uploads (drop several, progress across tabs, duplicate warning)', { timeout: 600_000 }, () => {
  const suite = useStack('uploads')
  let user

  before(async () => {
    user = await suite.arrive('patient', PATIENT, 'patient')
  })

  it('two files dropped at once both land, one signature each, and the progress survives a tab change', async () => {
    const { page } = user
    await tab(page, 'Upload')
    await page.getByText('Encryption key unlocked').waitFor() // at the key setup after sign-in
    // The limit is stated before any file is picked.
    await page.getByTestId('dropzone').getByText(/Up to 50\.0 MiB per file\./).waitFor()

    await dropFiles(page, FILES)
    for (const file of FILES) {
      const item = page.locator(`li[data-file="${file.name}"]`)
      await item.getByText('Fingerprint ready').waitFor()
      assert.equal(await item.getByRole('combobox', { name: `Type of ${file.name}` }).inputValue(), file.type, `type suggested for ${file.name}`)
    }

    // Hold the first upload on its way to the server, to look at the page mid-upload.
    const held = await holdFirstRequest(page, UPLOAD_PATH)
    const before = typedDataPrompts(user)
    const button = page.getByRole('button', { name: /Sign AddRecord for these 2 files and upload/ })
    await button.click()

    const busyButton = page.locator('.upload-actions button[data-stage]').first()
    await until('the first file to be signed and sending', async () => (await busyButton.getAttribute('data-stage')) === 'sending')
    assert.equal(typedDataPrompts(user) - before, 1, 'one signature so far: the second file asks later')
    assert.match(await busyButton.innerText(), /Sending…/)
    assert.doesNotMatch(await busyButton.innerText(), /Waiting for your wallet/)
    const live = page.locator('.upload-live progress')
    await live.waitFor()
    const box = await live.boundingBox()
    const viewport = page.viewportSize()
    assert.ok(box && box.y + box.height <= viewport.height, `the bar is inside the window (y=${box?.y}, height ${viewport.height})`)
    assert.equal(
      await page.evaluate(() => {
        const event = new Event('beforeunload', { cancelable: true })
        window.dispatchEvent(event)
        return event.defaultPrevented
      }),
      true,
      'leaving the page mid-upload is warned about',
    )
    await screenshot(page, 'uploads-01-sending-beside-the-button')

    // Another tab and back: the upload is still there, still running, with its progress.
    await awayFromUploadAndBack(page, FILES[0].name)
    await page.locator('.upload-live').waitFor()
    await screenshot(page, 'uploads-02-back-from-another-tab')

    held.release()
    const stored = page.getByRole('status').filter({ hasText: 'Stored and anchored' })
    await until('both files to be stored and anchored', async () => (await stored.count()) === 2, { timeout: CHAIN_TIMEOUT })
    assert.equal(typedDataPrompts(user) - before, 2, 'two signatures, one per file')
    const texts = await stored.allInnerTexts()
    assert.ok(texts.some((t) => /as record #0\./.test(t)) && texts.some((t) => /as record #1\./.test(t)), `records #0 and #1: ${texts}`)
    await held.stop()
    await screenshot(page, 'uploads-03-both-stored')

    await tab(page, 'My records')
    for (const file of FILES) await page.getByRole('row').filter({ hasText: file.name.replace(/\.txt$/, '') }).first().waitFor({ timeout: CHAIN_TIMEOUT })
  })

  it('adding a file already uploaded warns before anything is signed', async () => {
    const { page } = user
    await tab(page, 'Upload')
    const before = typedDataPrompts(user)
    await page.getByLabel('File', { exact: true }).setInputFiles({ name: 'copy-of-invoice.txt', mimeType: 'text/plain', buffer: Buffer.from(FILES[0].text) })
    const item = page.locator('li[data-file="copy-of-invoice.txt"]')
    const warning = item.getByRole('status').filter({ hasText: 'Already uploaded?' })
    await warning.waitFor()
    assert.match(await warning.innerText(), new RegExp(`You added this on .+ as “invoice-march-${STAMP}”\\.`))
    const button = page.getByRole('button', { name: /Sign AddRecord for this file and upload/ })
    assert.ok(await button.isDisabled(), 'a duplicate is held back until the patient says otherwise')
    await screenshot(page, 'uploads-04-duplicate-warned')

    await item.getByRole('checkbox', { name: 'Upload it again anyway' }).check()
    await until('the button to be enabled', () => button.isEnabled())
    assert.equal(typedDataPrompts(user), before, 'nothing was put to the wallet')
    assert.deepEqual(withoutApiNoise(user.problems), [])
  })
})
