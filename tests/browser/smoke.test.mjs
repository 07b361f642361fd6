// Smoke test: the built app loads in headless Chromium, explains a missing wallet, discovers the
// injected EIP-6963 wallet, connects, and the wallet signs through Anvil. Needs frontend/dist
// (npm run build in frontend/), /usr/bin/chromium, and Anvil (repo npm install, or ANVIL_URL).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  DEV_ACCOUNTS,
  frontendRequire,
  installWallet,
  launchBrowser,
  openPage,
  screenshot,
  startAnvil,
  startStaticServer,
  withoutApiNoise,
} from './lib/harness.mjs'

const { verifyMessage, verifyTypedData, getAddress } = await import(frontendRequire.resolve('viem'))

describe('browser smoke', () => {
  let server
  let anvil
  let browser

  before(async () => {
    server = await startStaticServer()
    anvil = await startAnvil()
    browser = await launchBrowser()
  })

  after(async () => {
    await browser?.close()
    await anvil?.close()
    await server?.close()
  })

  it('loads the app and explains that no wallet is installed', async () => {
    const { page, problems } = await openPage(browser.context)
    await page.goto(server.url, { waitUntil: 'load' })
    await page.getByRole('heading', { name: 'No wallet found in this browser' }).waitFor({ timeout: 15_000 })
    assert.equal(await page.title(), 'HealthLedger')
    await screenshot(page, 'smoke-no-wallet')
    assert.deepEqual(withoutApiNoise(problems), [])
    await page.close()
  })

  it('discovers the injected wallet, connects, and shows the sign-in step', async () => {
    const { page, problems } = await openPage(browser.context)
    const account = DEV_ACCOUNTS[1].address
    const wallet = await installWallet(page, { rpcUrl: anvil.url, account })
    await page.goto(server.url, { waitUntil: 'load' })

    await page.getByRole('button', { name: 'Connect HealthLedger Test Wallet' }).click({ timeout: 15_000 })
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    assert.match(await page.locator('header').innerText(), /0x7099…79C8/)
    assert.match(await page.locator('header').innerText(), /Local test network \(Anvil\)/)
    const signIn = page.getByRole('button', { name: /Sign in \(signs a one-time sign-in text\)/ })
    assert.ok(await signIn.isVisible())
    await screenshot(page, 'smoke-connected')

    // Without a backend the sign-in fails with a readable message (and nothing was signed).
    await signIn.click()
    await page.getByRole('alert').filter({ hasText: 'Sign-in failed' }).waitFor()
    assert.match(await page.getByRole('alert').innerText(), /temporarily unavailable: no backend behind the test server/)
    assert.equal(wallet.requests.filter((r) => r.method === 'personal_sign').length, 0)
    await screenshot(page, 'smoke-signin-no-backend')

    // Switching accounts in the wallet reaches the app (accountsChanged).
    await wallet.setAccount(page, DEV_ACCOUNTS[2].address)
    await page.locator('header').getByText('0x3C44…93BC').waitFor()

    assert.deepEqual(withoutApiNoise(problems), [])
    await page.close()
  })

  it('signs personal_sign and eth_signTypedData_v4 with the chosen Anvil account', async () => {
    const { page } = await openPage(browser.context)
    const account = DEV_ACCOUNTS[0].address
    await installWallet(page, { rpcUrl: anvil.url, account })
    await page.goto(server.url, { waitUntil: 'load' })

    const message = 'HealthLedger key derivation test ✓'
    const typedData = {
      types: {
        EIP712Domain: [
          { name: 'name', type: 'string' },
          { name: 'version', type: 'string' },
          { name: 'chainId', type: 'uint256' },
          { name: 'verifyingContract', type: 'address' },
        ],
        AddRecord: [
          { name: 'kind', type: 'uint8' },
          { name: 'contentHash', type: 'bytes32' },
          { name: 'nonce', type: 'uint256' },
          { name: 'deadline', type: 'uint256' },
        ],
      },
      domain: { name: 'HealthRecord', version: '1', chainId: 31337, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' },
      primaryType: 'AddRecord',
      message: { kind: 2, contentHash: `0x${'ab'.repeat(32)}`, nonce: 0, deadline: 1900000000 },
    }
    const result = await page.evaluate(
      async ({ message, typedData }) => {
        const hex = '0x' + [...new TextEncoder().encode(message)].map((b) => b.toString(16).padStart(2, '0')).join('')
        const [selected] = await window.ethereum.request({ method: 'eth_requestAccounts' })
        const personal = await window.ethereum.request({ method: 'personal_sign', params: [hex, selected] })
        const typed = await window.ethereum.request({ method: 'eth_signTypedData_v4', params: [selected, JSON.stringify(typedData)] })
        let refused = null
        try {
          await window.ethereum.request({ method: 'personal_sign', params: [hex, '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'] })
        } catch (error) {
          refused = error.code
        }
        return { selected, personal, typed, refused }
      },
      { message, typedData },
    )
    assert.equal(getAddress(result.selected), account)
    assert.ok(await verifyMessage({ address: account, message, signature: result.personal }))
    assert.ok(await verifyTypedData({ address: account, ...typedData, signature: result.typed }))
    assert.equal(result.refused, 4100, 'the wallet signs only for its selected account')
    await page.close()
  })
})
