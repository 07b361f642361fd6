// Reusable browser-test harness for HealthLedger (node --test, run by `make test`).
//
// - launchBrowser(): Debian's Chromium through playwright-core (no browser download), headless, in a
//   fresh user-data-dir that is deleted on close.
// - startStaticServer(): serves frontend/dist; `/api` is proxied to a backend when given one.
// - startAnvil(): a throwaway Anvil node on a free port (or ANVIL_URL to reuse a running one).
// - installWallet(): injects an EIP-1193 provider into every page of a context (or one page). Its
//   `request` is forwarded to Anvil's JSON-RPC, which signs (personal_sign, eth_signTypedData_v4) with
//   its dev accounts; it exposes one chosen account, announces itself via EIP-6963 and sets
//   window.ethereum. It can start on another network (switching to Anvil's works, like a real
//   wallet's) and can decline a request the way a person clicking "Reject" does (code 4001).
// - screenshot(): PNGs under test-artifacts/browser/ (git-ignored).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, createReadStream } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const REPO_ROOT = resolve(here, '../../..')
export const FRONTEND_DIR = join(REPO_ROOT, 'frontend')
export const DIST_DIR = join(FRONTEND_DIR, 'dist')
export const ARTIFACTS_DIR = join(REPO_ROOT, 'test-artifacts', 'browser')

// playwright-core and viem are devDependencies of frontend/, resolved from there.
export const frontendRequire = createRequire(join(FRONTEND_DIR, 'package.json'))

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Anvil's default dev accounts (public test keys from the default mnemonic; never use on a real chain). */
export const DEV_ACCOUNTS = [
  { address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', privateKey: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80' },
  { address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', privateKey: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d' },
  { address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', privateKey: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a' },
  { address: '0x90F79bf6EB2c4f870365E785982E1f101E93b906', privateKey: '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6' },
  { address: '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65', privateKey: '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a' },
  { address: '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc', privateKey: '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba' },
  { address: '0x976EA74026E726554dB657fA54763abd0C3a0aa9', privateKey: '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e' },
]

export function chromiumPath() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean)
  const found = candidates.find((path) => existsSync(path))
  if (!found) throw new Error(`Chromium not found (looked at ${candidates.join(', ')}): apt-get install -y chromium, or set CHROMIUM_PATH`)
  return found
}

/** A headless Chromium context in a fresh profile. `close()` ends it and removes the profile. */
export async function launchBrowser({ viewport = { width: 1280, height: 900 }, extraArgs = [] } = {}) {
  const { chromium } = frontendRequire('playwright-core')
  const userDataDir = mkdtempSync(join(tmpdir(), 'healthledger-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraArgs],
    viewport,
    timeout: 60_000,
  })
  return {
    context,
    userDataDir,
    async close() {
      // On a loaded machine context.close() can fail or never settle and leave Chromium running,
      // which keeps this test process (and node --test) alive: give it a while, then end what is left.
      let timer
      const gaveUp = new Promise((ok) => (timer = setTimeout(ok, BROWSER_CLOSE_TIMEOUT)))
      await Promise.race([context.close().catch(() => undefined), gaveUp])
      clearTimeout(timer)
      killProfileProcesses(userDataDir)
      rmSync(userDataDir, { recursive: true, force: true })
    },
  }
}

const BROWSER_CLOSE_TIMEOUT = 20_000

/**
 * SIGKILL the processes of the Chromium launched with `userDataDir` (a fresh temp dir, so only that
 * launch's processes carry it); none left after a clean close. Linux /proc; elsewhere a no-op.
 */
function killProfileProcesses(userDataDir) {
  const flag = `--user-data-dir=${userDataDir}`
  let pids = []
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return
  }
  for (const pid of pids) {
    let args
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    } catch {
      continue // gone meanwhile, or not ours to read
    }
    if (!args.includes(flag)) continue
    try {
      process.kill(Number(pid), 'SIGKILL')
    } catch {
      // exited between the read and the kill
    }
  }
}

/**
 * A new page with console errors and page errors collected (tests can assert there are none; failed
 * /api loads show up as console errors with their URL, see `withoutApiNoise`).
 */
export async function openPage(context) {
  const page = await context.newPage()
  const problems = []
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') {
      const where = message.location()?.url
      problems.push(`console: ${message.text()}${where ? ` (${where})` : ''}`)
    }
  })
  return { page, problems }
}

/** The problems that are not the browser's own report of an /api response with an error status. */
export function withoutApiNoise(problems) {
  return problems.filter((p) => !/^console: Failed to load resource: .*\(https?:\/\/[^/]+\/api\//.test(p))
}

/**
 * A TCP port nobody listens on now, chosen at random below the kernel's ephemeral range (as the
 * backend's devstack free_port() does, and for its reason): a port the OS picks with listen(0) comes
 * from the range every outgoing connection takes its local port from, so the browser's or the API's
 * next connection may hold it by the time the server we start on it binds. Still only free "a
 * moment ago": startStack() tries again on new ports when a start meets a taken one.
 */
export async function freePort(host = '127.0.0.1') {
  const firstEphemeral = firstEphemeralPort()
  if (firstEphemeral - LOWEST_FREE_PORT >= 1000) {
    for (let tries = 0; tries < 200; tries++) {
      const port = LOWEST_FREE_PORT + Math.floor(Math.random() * (firstEphemeral - LOWEST_FREE_PORT))
      if (await canListen(host, port)) return port
    }
  }
  return listenAndClose(host, 0) // an unusual range: let the OS pick
}

const LOWEST_FREE_PORT = 20000

/** The start of the kernel's ephemeral port range (Linux's default 32768 where /proc says nothing). */
function firstEphemeralPort() {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(first) ? first : 32768
  } catch {
    return 32768
  }
}

async function canListen(host, port) {
  return listenAndClose(host, port).then(() => true, () => false)
}

/** Listen on host:port (0: any), close, and resolve with the port; rejects when it is taken. */
function listenAndClose(host, port) {
  return new Promise((resolvePort, reject) => {
    const server = createNetServer()
    server.once('error', reject)
    server.listen(port, host, () => {
      const { port: bound } = server.address()
      server.close(() => resolvePort(bound))
    })
  })
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
}

/**
 * Serve `root` (frontend/dist) on 127.0.0.1. Requests under /api go to `apiTarget` when given
 * (e.g. 'http://127.0.0.1:8000'); without one they get the backend's error shape with 503, so the
 * app shows its "service unreachable" state.
 */
export async function startStaticServer({ root = DIST_DIR, port = 0, apiTarget } = {}) {
  if (!existsSync(join(root, 'index.html'))) throw new Error(`${root}/index.html is missing: run \`npm run build\` in frontend/ first`)
  const rootDir = resolve(root)
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
      if (!apiTarget) {
        res.writeHead(503, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { code: 'no_backend', message: 'no backend behind the test server' } }))
        return
      }
      const target = new URL(req.url ?? '/', apiTarget)
      const upstream = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      upstream.on('error', () => {
        res.writeHead(502, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { code: 'bad_gateway', message: 'backend not reachable' } }))
      })
      req.pipe(upstream)
      return
    }
    let path = normalize(join(rootDir, decodeURIComponent(url.pathname)))
    if (path !== rootDir && !path.startsWith(rootDir + sep)) {
      res.writeHead(403).end()
      return
    }
    if (!existsSync(path) || statSync(path).isDirectory()) path = join(rootDir, 'index.html')
    res.writeHead(200, { 'content-type': MIME[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
    createReadStream(path).pipe(res)
  })
  await new Promise((ok, fail) => {
    server.once('error', fail)
    server.listen(port, '127.0.0.1', ok)
  })
  const url = `http://127.0.0.1:${server.address().port}`
  return {
    url,
    close: () => new Promise((ok) => server.close(() => ok())),
  }
}

/** One JSON-RPC call (Node side). Throws an Error carrying `code` and `data` on RPC errors. */
export async function rpc(url, method, params = []) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const body = await response.json()
  if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data })
  return body.result
}

export function anvilBinary() {
  const candidates = [
    process.env.ANVIL_BIN,
    join(REPO_ROOT, 'bin', 'anvil'),
    join(REPO_ROOT, 'node_modules', '@foundry-rs', 'anvil-linux-amd64', 'bin', 'anvil'),
  ].filter(Boolean)
  return candidates.find((path) => existsSync(path)) ?? null
}

/** SIGKILL `child` if this test process exits first (a crash, or a test that never stops it). */
export function killWithThisProcess(child) {
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  child.once('exit', () => process.removeListener('exit', killOnExit))
}

/**
 * Anvil for a test: ANVIL_URL if set (left running), else a new node on a free port, stopped by
 * `close()`. Resolves once it answers eth_chainId.
 */
export async function startAnvil({ chainId = 31337, args = [] } = {}) {
  if (process.env.ANVIL_URL) {
    const url = process.env.ANVIL_URL
    return { url, chainId: Number(BigInt(await rpc(url, 'eth_chainId'))), close: async () => undefined }
  }
  const binary = anvilBinary()
  if (!binary) throw new Error('anvil not found: run `make install` (npm ci at the repo root) or set ANVIL_BIN / ANVIL_URL')
  const port = await freePort()
  const child = spawn(binary, ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId), '--silent', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  // If the test process dies without calling close(), take Anvil down with it.
  killWithThisProcess(child)
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`anvil exited early (${child.exitCode}): ${stderr}`)
    try {
      await rpc(url, 'eth_chainId')
      break
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`anvil did not answer on ${url}: ${stderr}`)
      }
      await new Promise((ok) => setTimeout(ok, 100))
    }
  }
  return {
    url,
    chainId,
    process: child,
    async close() {
      if (child.exitCode !== null) return
      const exited = new Promise((ok) => child.once('exit', ok))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
      await exited
      clearTimeout(timer)
    },
  }
}

const WALLET_ICON =
  'data:image/svg+xml;base64,' +
  Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#6b4fbb"/><path d="M4 5h8v6H4z" fill="#fff"/></svg>').toString('base64')

// Runs in the page (serialised by addInitScript): the provider object and its EIP-6963 announcement.
function injectedWallet(config) {
  const listeners = new Map()
  let account = config.account
  const emit = (event, ...args) => {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        listener(...args)
      } catch (error) {
        console.error('wallet listener failed', error)
      }
    }
  }
  const rpcError = (code, message) => Object.assign(new Error(message), { code })
  const same = (a, b) => typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase()
  const provider = {
    isHealthLedgerTestWallet: true,
    async request(args) {
      if (!args || typeof args.method !== 'string') throw rpcError(-32600, 'invalid request')
      const { method } = args
      const params = Array.isArray(args.params) ? args.params : args.params === undefined ? [] : [args.params]
      switch (method) {
        case 'eth_requestAccounts':
        case 'eth_accounts':
          return account ? [account.toLowerCase()] : []
        case 'wallet_requestPermissions':
          return [{ parentCapability: 'eth_accounts' }]
        case 'personal_sign':
          if (!same(params[1], account)) throw rpcError(4100, `the wallet holds ${account}, not ${params[1]}`)
          break
        case 'eth_signTypedData_v4':
          if (!same(params[0], account)) throw rpcError(4100, `the wallet holds ${account}, not ${params[0]}`)
          break
        case 'eth_sendTransaction':
          if (!same(params[0]?.from, account)) throw rpcError(4100, 'transaction from another account')
          break
      }
      const answer = await window[config.binding]({ method, params })
      if (answer.error) throw Object.assign(rpcError(answer.error.code ?? -32603, answer.error.message), { data: answer.error.data })
      return answer.result
    },
    on(event, listener) {
      if (!listeners.has(event)) listeners.set(event, new Set())
      listeners.get(event).add(listener)
      return provider
    },
    removeListener(event, listener) {
      listeners.get(event)?.delete(listener)
      return provider
    },
  }
  // Test controls (not part of EIP-1193).
  const controls = {
    provider,
    setAccount(next) {
      account = next
      emit('accountsChanged', next ? [next.toLowerCase()] : [])
    },
    emitChainChanged(chainIdHex) {
      emit('chainChanged', chainIdHex)
    },
    emit,
  }
  Object.defineProperty(window, '__healthledgerTestWallet', { value: controls, configurable: true })

  const detail = Object.freeze({ info: Object.freeze({ ...config.info }), provider })
  const announce = () => window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail }))
  if (config.announce) {
    window.addEventListener('eip6963:requestProvider', announce)
    announce()
  }
  if (config.legacy) Object.defineProperty(window, 'ethereum', { value: provider, configurable: true, writable: true })
}

let walletCount = 0

/** A fresh account (not one of Anvil's): its private key and address, for `installWallet({ privateKey })`. */
export function freshAccount() {
  const { generatePrivateKey, privateKeyToAccount } = frontendRequire('viem/accounts')
  const privateKey = generatePrivateKey()
  return { privateKey, address: privateKeyToAccount(privateKey).address }
}

// What a wallet holding its own key signs itself; it sends no transactions (such an account holds no ETH).
const LOCAL_SIGNING = new Set(['personal_sign', 'eth_signTypedData_v4', 'eth_sendTransaction'])

function localSigner(privateKey) {
  return frontendRequire('viem/accounts').privateKeyToAccount(privateKey)
}

/** Integer fields of EIP-712 `value` (of struct `type`) as BigInt: viem encodes uintN/intN from numbers or bigints only. */
function typedValue(types, type, value) {
  if (type.endsWith(']')) return value.map((item) => typedValue(types, type.slice(0, type.lastIndexOf('[')), item))
  if (types[type]) return Object.fromEntries(types[type].map(({ name, type: field }) => [name, typedValue(types, field, value[name])]))
  if (/^u?int\d*$/.test(type)) return BigInt(value)
  return value
}

/** personal_sign and eth_signTypedData_v4 with `signer`'s own key, as MetaMask does (Anvil does not hold it). */
async function signLocally(signer, method, params) {
  if (method === 'personal_sign') return signer.signMessage({ message: { raw: params[0] } })
  if (method === 'eth_sendTransaction') throw Object.assign(new Error('this test wallet holds its own key and sends no transactions'), { code: 4200 })
  const { domain, types, primaryType, message } = JSON.parse(params[1])
  const { EIP712Domain, ...structs } = types
  return signer.signTypedData({
    domain: EIP712Domain ? typedValue({ EIP712Domain }, 'EIP712Domain', domain) : domain,
    types: structs,
    primaryType,
    message: typedValue(structs, primaryType, message),
  })
}

/**
 * Inject the test wallet into `target` (a BrowserContext for every page, or one Page) before any
 * page script runs. Returns the Node-side log of forwarded requests and helpers to drive the wallet.
 *
 * options: rpcUrl (Anvil), account (one of its dev accounts), name, rdns, uuid, announce (EIP-6963,
 * default true), legacy (window.ethereum, default true), chainId (the network the wallet starts on;
 * default Anvil's), intercept(method, params) -> undefined to forward, or { result } /
 * { error: {code, message} } to answer in the harness, privateKey (the key of `account` when it is
 * not an Anvil dev account, e.g. freshAccount()'s: the wallet signs with it itself, like MetaMask,
 * and refuses eth_sendTransaction).
 *
 * Like MetaMask, the wallet answers eth_chainId with its current network, refuses to sign typed data
 * whose domain names another one, and on wallet_switchEthereumChain to Anvil's id switches and emits
 * chainChanged (other ids: 4902 unknown chain). `declineNext(method)` makes the next request of that
 * method fail as a person's "Reject" would (4001), before anything reaches Anvil.
 */
export async function installWallet(target, options) {
  const {
    rpcUrl,
    account = DEV_ACCOUNTS[0].address,
    name = 'HealthLedger Test Wallet',
    rdns = 'org.healthledger.testwallet',
    uuid = `00000000-0000-4000-8000-${String(++walletCount).padStart(12, '0')}`,
    announce = true,
    legacy = true,
    chainId,
    intercept,
    privateKey,
  } = options
  if (!rpcUrl) throw new Error('installWallet needs rpcUrl (an Anvil JSON-RPC URL)')
  const signer = privateKey ? localSigner(privateKey) : null
  if (signer && signer.address.toLowerCase() !== account.toLowerCase()) throw new Error(`privateKey is the key of ${signer.address}, not of ${account}`)
  const binding = `__healthledgerWalletRpc${walletCount}`
  const requests = []
  const declined = new Set()
  const chainIdHex = await rpc(rpcUrl, 'eth_chainId')
  let walletChainHex = chainId === undefined ? chainIdHex : `0x${BigInt(chainId).toString(16)}`
  const sameChain = (a, b) => a !== undefined && b !== undefined && BigInt(a) === BigInt(b)

  await target.exposeBinding(binding, async (source, { method, params }) => {
    requests.push({ method, params })
    try {
      if (declined.delete(method)) return { error: { code: 4001, message: 'User rejected the request.' } }
      const local = intercept ? await intercept(method, params) : undefined
      if (local) return local
      switch (method) {
        case 'eth_chainId':
          return { result: walletChainHex }
        case 'net_version':
          return { result: BigInt(walletChainHex).toString(10) }
        case 'wallet_addEthereumChain':
          return { result: null }
        case 'wallet_switchEthereumChain': {
          // Anvil is the one other network this wallet knows; any other id is unknown (4902).
          const wanted = params?.[0]?.chainId
          if (!sameChain(wanted, chainIdHex)) return { error: { code: 4902, message: `Unrecognized chain ID ${wanted}` } }
          if (!sameChain(walletChainHex, chainIdHex)) {
            walletChainHex = chainIdHex
            await source.page.evaluate((id) => window.__healthledgerTestWallet.emitChainChanged(id), chainIdHex)
          }
          return { result: null }
        }
        case 'eth_signTypedData_v4': {
          const domainChain = JSON.parse(params[1])?.domain?.chainId
          if (domainChain !== undefined && !sameChain(domainChain, walletChainHex)) {
            return { error: { code: -32602, message: `Provided chainId "${domainChain}" must match the active chainId "${BigInt(walletChainHex)}"` } }
          }
          break
        }
      }
      if (signer && LOCAL_SIGNING.has(method)) return { result: await signLocally(signer, method, params) }
      return { result: await rpc(rpcUrl, method, params) }
    } catch (error) {
      return { error: { code: typeof error.code === 'number' ? error.code : -32603, message: error.message, data: error.data } }
    }
  })
  await target.addInitScript(injectedWallet, {
    binding,
    account,
    announce,
    legacy,
    info: { uuid, name, icon: WALLET_ICON, rdns },
  })
  return {
    requests,
    account,
    chainIdHex,
    /** The network the wallet is on now (hex). */
    walletChainId: () => walletChainHex,
    /** The next `method` request is declined as by the person (4001) and never reaches Anvil. */
    declineNext: (method) => declined.add(method),
    /** Switch the selected account in `page` (emits accountsChanged). */
    setAccount: (page, next) => page.evaluate((a) => window.__healthledgerTestWallet.setAccount(a), next),
    emitChainChanged: (page, id) => page.evaluate((c) => window.__healthledgerTestWallet.emitChainChanged(c), id),
  }
}

/** Save a full-page screenshot as test-artifacts/browser/<name>.png and return its path. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS_DIR, { recursive: true })
  const path = join(ARTIFACTS_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}
