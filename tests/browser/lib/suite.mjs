// The lifecycle every stack-backed browser test shares, for node:test's describe/it:
//
//   describe('browser: …', { timeout: 600_000 }, () => {
//     const suite = useStack('sharing')            // before: startStack(); after: close every browser, stop it
//     suite.step('0. …', async () => {            // skipped once an earlier step failed; on failure,
//       const { page } = await suite.arrive(…)     // screenshots every user's page as sharing-failed-<who>
//     })
//   })
//
// `useStack` must be called inside the describe() callback (it registers that suite's before/after
// hooks). Users are keyed by who they are ('patient', 'doctorA', …); each has its own Chromium profile
// (stack.mjs connected()) and is closed by the fixture that opened it. The low-level pieces stay in
// harness.mjs (browser, wallet, servers) and stack.mjs (run_stack.py, sign-in, polling).
import { after, before, it } from 'node:test'
import { screenshot } from './harness.mjs'
import { connected, signIn, startStack } from './stack.mjs'

/**
 * Start the real stack before the enclosing describe()'s tests and stop it after them, closing every
 * browser the suite opened first.
 *
 * options:
 * - env: settings for the API (passed to startStack, e.g. MAX_UPLOAD_BYTES).
 * - onArrive(user, role, who): runs after each arrive() (e.g. the key setup must have succeeded).
 *
 * Returns { stack (set once started), users, step, connect, arrive, screenshotAll }.
 */
export function useStack(prefix, { env = {}, onArrive } = {}) {
  const users = {}
  let broken = false
  const suite = {
    /** The running stack ({ url, rpcUrl, … }); null until the before hook has run. */
    stack: null,
    users,

    /** Screenshot every user's page as `<prefix>-<label>-<who>`; never throws. */
    async screenshotAll(label) {
      for (const [who, user] of Object.entries(users)) await screenshot(user.page, `${prefix}-${label}-${who}`).catch(() => undefined)
    },

    /**
     * A test that builds on the previous ones: after a failure the rest are skipped, not timed out,
     * and what each user's page showed is kept (test-artifacts/browser/<prefix>-failed-<who>.png).
     */
    step(name, fn) {
      return it(name, async (t) => {
        if (broken) return t.skip('an earlier step failed')
        try {
          await fn(t)
        } catch (error) {
          broken = true
          await suite.screenshotAll('failed')
          throw error
        }
      })
    },

    /** A fresh profile for `who` whose wallet holds `account`, on the app and connected (not signed in). */
    async connect(who, account, walletOptions = {}) {
      // Adopted before the app loads: a page that never shows "Connect" is screenshot and closed too.
      return connected(suite.stack, account, walletOptions, { adopt: (user) => (users[who] = user) })
    },

    /**
     * connect(), then sign in as `role` and, when given, wait for the workspace's `heading`; then
     * the suite's onArrive check. `walletOptions.intercept` etc. go to the injected wallet.
     */
    async arrive(who, account, role, heading, walletOptions = {}) {
      const user = await suite.connect(who, account, walletOptions)
      await suite.signInAs(who, role, heading)
      return user
    },

    /** Sign the already connected `who` in as `role` (see arrive()). */
    async signInAs(who, role, heading) {
      const user = users[who]
      await signIn(user.page, role)
      if (heading) await user.page.getByRole('heading', { name: heading }).waitFor()
      if (onArrive) await onArrive(user, role, who)
      return user
    },
  }

  before(async () => {
    suite.stack = await startStack({ env })
  })

  after(async () => {
    for (const user of Object.values(users)) await user.browser.close()
    await suite.stack?.stop()
  })

  return suite
}
