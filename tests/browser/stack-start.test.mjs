// The browser suites' stack start (lib/stack.mjs startStack) when a port it chose is taken before
// run_stack.py binds it: the runner starts two suites' stacks side by side, and any process may take a
// port between the choice and the bind. The start must be tried again on new ports, not fail the
// whole suite (CI once lost a suite's three tests to a failed before-hook). Needs .venv and
// frontend/dist, like every stack-backed suite; no browser.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { describe, it } from 'node:test'
import { freePort } from './lib/harness.mjs'
import { PORT_TAKEN, startStack } from './lib/stack.mjs'

/** Listen on a free port, as another process's server would; resolves with { port, close }. */
async function holdPort() {
  const server = createServer()
  await new Promise((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok))
  return { port: server.address().port, close: () => new Promise((ok) => server.close(ok)) }
}

describe('browser stack start: a taken port', { timeout: 300_000 }, () => {
  it('free ports come from below the ephemeral range, where outgoing connections never take them', async () => {
    const firstEphemeral = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()))
    for (const port of ports) assert.ok(port >= 20000 && port < firstEphemeral, `port ${port}`)
  })

  it('every way a start reports a taken port is recognised as one', () => {
    for (const message of [
      'port 41234 is in use (by pid 7: node); it is needed for the API: stop the other process or set PORT',
      'listen EADDRINUSE: address already in use 127.0.0.1:41234',
      'OSError: [Errno 98] Address already in use',
      'Error: Address already in use (os error 98)',
    ]) assert.match(message, PORT_TAKEN)
    assert.doesNotMatch('the API did not start: ModuleNotFoundError: No module named healthledger', PORT_TAKEN)
  })

  it('the API port is taken: the stack starts on another one and serves', async () => {
    const held = await holdPort()
    let stack
    try {
      stack = await startStack({ firstApiPort: held.port })
      assert.notEqual(new URL(stack.url).port, String(held.port))
      const live = await fetch(`${stack.url}/api/system/live`)
      assert.equal(live.status, 200)
      assert.deepEqual(await live.json(), { status: 'live' })
    } finally {
      await stack?.stop()
      await held.close()
    }
  })
})
