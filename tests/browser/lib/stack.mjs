// The real stack for browser tests, and the steps every role's test starts with.
//
// - startStack(): scripts/run_stack.py (Anvil, js-ipfs, SecantusDB, the API serving frontend/dist) on
//   free ports with a throwaway data dir; `stop()` ends it and removes the dir.
// - signIn(): a fresh browser profile whose injected wallet holds one Anvil dev account, connected and
//   signed in with SIWE.
// - until(): poll a condition with a timeout (no sleeps that hide races); untilRefreshed() clicks a
//   Refresh button between tries.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT, freePort, installWallet, killWithThisProcess, launchBrowser, openPage } from './harness.mjs'

export const STACK_START_TIMEOUT = 180_000
export const UI_TIMEOUT = 30_000
export const CHAIN_TIMEOUT = 90_000 // waits that include a mined transaction and the reconciler

/** Poll `check` (async, returns truthy when done) until it succeeds or `timeout` passes. */
export async function until(what, check, { timeout = UI_TIMEOUT, interval = 250 } = {}) {
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

/**
 * Poll `check` like `until`, clicking `refresh` (a Refresh button's locator) between tries: for what
 * another user's action or the chain makes appear, which the page shows only once refreshed.
 */
export async function untilRefreshed(what, refresh, check, { timeout = UI_TIMEOUT, interval = 1000 } = {}) {
  return until(what, async () => {
    if (await check()) return true
    await refresh.click()
    return false
  }, { timeout, interval })
}

/**
 * Start scripts/run_stack.py on free ports with a temp data dir; resolves on its ready line.
 * `env` adds settings for the API (e.g. MAX_UPLOAD_BYTES); the developer's `.env` is ignored.
 *
 * A "free" port is only free when it is chosen: another process (another test file's stack, when the
 * runner runs files side by side) may bind it before a service of this stack does. That start fails
 * saying the port is taken (PORT_TAKEN) and nothing of it is left running, so it is tried again on
 * new ports, at most STACK_START_ATTEMPTS times; any other failure is reported at once.
 * `firstApiPort`: the API's port for the first attempt only (the test of that retry holds it).
 */
export async function startStack({ env = {}, firstApiPort } = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce({ env, port: attempt === 1 ? firstApiPort : undefined })
    } catch (error) {
      if (attempt >= STACK_START_ATTEMPTS || !PORT_TAKEN.test(String(error?.message))) throw error
    }
  }
}

const STACK_START_ATTEMPTS = 3
// How a start that met a taken port fails: run_stack.py's own check of PORT and ANVIL_PORT ("port N
// is in use"), or a server's log quoted in its error (Node: EADDRINUSE; Python, Rust: "Address
// already in use").
export const PORT_TAKEN = /EADDRINUSE|address already in use|port \d+ is in use/i

async function startStackOnce({ env, port: givenPort }) {
  const python = [join(REPO_ROOT, '.venv', 'bin', 'python'), 'python3'].find((p) => p === 'python3' || existsSync(p))
  const dataDir = mkdtempSync(join(tmpdir(), 'healthledger-browser-'))
  const port = givenPort ?? (await freePort())
  let anvilPort = await freePort()
  while (anvilPort === port) anvilPort = await freePort()
  const child = spawn(python, [join(REPO_ROOT, 'scripts', 'run_stack.py')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...env,
      HEALTHLEDGER_DATA_DIR: dataDir,
      PORT: String(port),
      ANVIL_PORT: String(anvilPort),
      HEALTHLEDGER_ENV_FILE: '/dev/null',
      PYTHONUNBUFFERED: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  killWithThisProcess(child)
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
  }).catch((error) => {
    child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
    throw error
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

/**
 * A fresh browser profile whose wallet holds `account`, on the stack's page and connected. Also
 * returns every /api request the page made, so tests can prove what was (not) sent.
 *
 * `adopt(user)`, when given, receives the user as soon as its page is open, before it loads the app:
 * whoever adopts it (useStack) screenshots and closes it even if connecting fails. Without `adopt`, a
 * failure closes the browser here (a Chromium left running keeps the test process alive).
 */
export async function connected(stack, account, walletOptions = {}, { adopt } = {}) {
  const browser = await launchBrowser()
  let user
  try {
    const wallet = await installWallet(browser.context, { rpcUrl: stack.rpcUrl, account, ...walletOptions })
    const { page, problems } = await openPage(browser.context)
    const apiCalls = []
    page.on('request', (request) => {
      const url = new URL(request.url())
      if (url.pathname.startsWith('/api/')) apiCalls.push(`${request.method()} ${url.pathname}`)
    })
    page.setDefaultTimeout(UI_TIMEOUT)
    user = { browser, page, problems, wallet, apiCalls }
    adopt?.(user)
    await page.goto(stack.url, { waitUntil: 'load' })
    await page.getByRole('button', { name: 'Connect HealthLedger Test Wallet' }).click()
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    return user
  } catch (error) {
    if (!adopt || !user) await browser.close()
    throw error
  }
}

/**
 * The encryption-key setup's phase once it has settled (`present`, `missing`, `invalid`,
 * `unavailable`): patients and doctors set up their key right after signing in, and the wallet
 * prompts it makes must be over before a test asks the wallet for anything else.
 */
export async function keySetupSettled(page) {
  const card = page.locator('[data-key-setup]')
  return until('the encryption-key setup to settle', async () => {
    const phase = await card.getAttribute('data-key-setup', { timeout: 1000 })
    return phase && phase !== 'checking' && phase !== 'setting-up' ? phase : null
  })
}

/** Click "Sign in" and wait for the workspace of `role` (and, but for registrars, the key setup to settle). */
export async function signIn(page, role) {
  await page.getByRole('button', { name: /Sign in \(signs a one-time sign-in text\)/ }).click()
  await page.getByRole('navigation', { name: 'Sections' }).waitFor()
  await page.getByLabel('Wallet').getByText(role, { exact: true }).waitFor()
  if (role !== 'registrar') await keySetupSettled(page)
}

/** A fresh profile with the wallet holding `account`, connected and signed in as `role`. */
export async function signedIn(stack, account, role, walletOptions = {}) {
  const user = await connected(stack, account, walletOptions)
  await signIn(user.page, role)
  return user
}

/** Open a section of the workspace by its tab label. */
export async function tab(page, label) {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: label, exact: true }).click()
}

/** Fill the upload form (file, name) and wait until the page has fingerprinted the file. */
export async function chooseFile(page, { name, fileName = 'record.txt', mimeType = 'text/plain', buffer }) {
  await page.getByLabel('File', { exact: true }).setInputFiles({ name: fileName, mimeType, buffer })
  await page.getByRole('textbox', { name: /^Name/ }).fill(name)
  await page.getByText('Fingerprint ready').waitFor()
}
