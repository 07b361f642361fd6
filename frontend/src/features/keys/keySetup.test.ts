import { describe, expect, it } from 'vitest'
import { hexToString, stringToHex } from 'viem'
import { readableError } from '../../api/errors'
import type { Role } from '../../api/types'
import { errorResponse, fakeApi, fakeWallet, jsonResponse } from '../../test/fakes'
import { autoSetupDecision, keyNotice, keyPhase, keyStatus, setUpAccountKey, type KeyStatus, type KeyView } from './keySetup'

const ME = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'
const KEY_PATH = `/api/keys/${ME}`
const MESSAGE = 'HealthLedger encryption key v2\nSign to derive your key.'
const PUBLIC_KEY = `0x${'11'.repeat(32)}`
const TYPED_DATA = {
  domain: { name: 'HealthLedger', version: '2', chainId: 31337 },
  types: { EncryptionKey: [{ name: 'account', type: 'address' }, { name: 'publicKey', type: 'bytes32' }] },
  primaryType: 'EncryptionKey',
  message: { account: ME, publicKey: PUBLIC_KEY },
}
const WALLET_SIGNATURE = `0x${'ab'.repeat(65)}`
const BINDING_SIGNATURE = `0x${'cd'.repeat(65)}`

/** The backend's key routes, for an account without a key. */
const keyRoutes = () => ({
  'POST /api/keys': jsonResponse({ publicKey: PUBLIC_KEY, typedData: TYPED_DATA }),
  'PUT /api/keys': jsonResponse({ account: ME, publicKey: PUBLIC_KEY }),
})

/**
 * The session's signKeyMessage as SessionContext implements it: the wallet's personal_sign of the key
 * message, asked once, then kept (in memory) and given again without a prompt.
 */
function sessionKey(wallet: { request(args: { method: string; params?: unknown }): Promise<unknown> }) {
  let kept: string | null = null
  return {
    kept: () => kept,
    signKey: async () => (kept ??= (await wallet.request({ method: 'personal_sign', params: [stringToHex(MESSAGE), ME] })) as string),
  }
}

describe('setUpAccountKey', () => {
  it('signs the key message, then the binding, each after its explanation, and registers the key', async () => {
    const { api, seen } = fakeApi(keyRoutes())
    const wallet = fakeWallet()
    const log: string[] = []
    const counted = { request: async (args: { method: string; params?: unknown }) => (log.push(args.method), wallet.request(args)) }
    const key = sessionKey(counted)
    const registered = await setUpAccountKey({ api, provider: counted, address: ME, signKey: key.signKey, before: (step) => log.push(`explain:${step}`) })

    expect(registered).toEqual({ account: ME, publicKey: PUBLIC_KEY })
    expect(log).toEqual(['explain:derive', 'personal_sign', 'eth_chainId', 'explain:bind', 'eth_signTypedData_v4'])
    const [text] = wallet.calls.find((c) => c.method === 'personal_sign')!.params as [`0x${string}`, string]
    expect(hexToString(text)).toBe(MESSAGE)
    const typed = JSON.parse((wallet.calls.find((c) => c.method === 'eth_signTypedData_v4')!.params as string[])[1])
    expect(typed.primaryType).toBe('EncryptionKey')
    expect(typed.message).toEqual({ account: ME, publicKey: PUBLIC_KEY })
    expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /api/keys', 'PUT /api/keys'])
    expect(seen[0].body).toEqual({ walletSignature: WALLET_SIGNATURE })
    expect(seen[1].body).toEqual({ publicKey: PUBLIC_KEY, signature: BINDING_SIGNATURE })
    // The key-derivation signature (a secret) went to the POST only.
    expect(JSON.stringify(registered)).not.toContain('abab')
  })

  it("uses the session's key signature: one personal_sign per session, shared with uploads and opening", async () => {
    const { api } = fakeApi(keyRoutes())
    const wallet = fakeWallet()
    const key = sessionKey(wallet)
    await setUpAccountKey({ api, provider: wallet, address: ME, signKey: key.signKey })
    // What the upload and open screens send afterwards is the same signature, without a second prompt.
    expect(await key.signKey()).toBe(WALLET_SIGNATURE)
    expect(key.kept()).toBe(WALLET_SIGNATURE)
    expect(wallet.calls.filter((c) => c.method === 'personal_sign')).toHaveLength(1)
  })

  it('a declined key message stops before anything is sent, with a readable reason', async () => {
    const { api, seen } = fakeApi(keyRoutes())
    const wallet = fakeWallet()
    wallet.declineNext('personal_sign')
    const error = await setUpAccountKey({ api, provider: wallet, address: ME, signKey: sessionKey(wallet).signKey }).catch((e: unknown) => e)
    expect(readableError(error)).toBe('You declined the request in your wallet. Nothing was signed or sent.')
    expect(seen).toEqual([])
    expect(wallet.calls.map((c) => c.method)).toEqual(['personal_sign'])
  })

  it('a declined binding registers nothing', async () => {
    const { api, seen } = fakeApi(keyRoutes())
    const wallet = fakeWallet()
    wallet.declineNext('eth_signTypedData_v4')
    await expect(setUpAccountKey({ api, provider: wallet, address: ME, signKey: sessionKey(wallet).signKey })).rejects.toMatchObject({ code: 4001 })
    expect(seen.some((r) => r.method === 'PUT')).toBe(false)
  })

  it('a wallet on another network is not asked for the binding', async () => {
    const { api, seen } = fakeApi(keyRoutes())
    const wallet = fakeWallet({ chainId: 1 })
    await expect(setUpAccountKey({ api, provider: wallet, address: ME, signKey: sessionKey(wallet).signKey })).rejects.toThrow(
      /Your wallet is on Ethereum, but this signature is for Local test network \(Anvil\)/,
    )
    expect(wallet.calls.some((c) => c.method === 'eth_signTypedData_v4')).toBe(false)
    expect(seen.some((r) => r.method === 'PUT')).toBe(false)
  })
})

describe('the key query', () => {
  const statusOf = async (answer: () => Response): Promise<KeyStatus> => {
    const { api } = fakeApi({ [`GET ${KEY_PATH}`]: answer })
    try {
      return keyStatus({ isPending: false, data: await api.keys.get(ME) })
    } catch (error) {
      return keyStatus({ isPending: false, error })
    }
  }

  it('tells a missing key (404 key_not_found) from a present one, a tampered one (409) and an outage', async () => {
    expect(await statusOf(errorResponse(404, 'key_not_found'))).toBe('missing')
    expect(await statusOf(jsonResponse({ account: ME, publicKey: PUBLIC_KEY, signature: BINDING_SIGNATURE }))).toBe('present')
    expect(await statusOf(errorResponse(409, 'key_binding_invalid'))).toBe('invalid')
    expect(await statusOf(errorResponse(503, 'database_unavailable'))).toBe('unavailable')
    // A 404 that is not the key's own answer (an older server without the route) is not "missing".
    expect(await statusOf(errorResponse(404, 'not_found'))).toBe('unavailable')
    expect(keyStatus({ isPending: true })).toBe('checking')
  })
})

/**
 * The component's rule, step by step: the address armed by a sign-in, each status the key query goes
 * through, and the setup's outcome. Returns how often the wallet was asked and the notice at the end.
 */
function afterSignIn(role: Role, statuses: KeyStatus[], outcome: 'declined' | 'ok') {
  let armed: string | null = ME
  let runs = 0
  let error: unknown = null
  let succeeded = false
  let status: KeyStatus = 'checking'
  // Every status is seen several times (re-renders, remounts): only the first decision counts.
  for (const next of statuses.flatMap((s) => [s, s, s])) {
    status = next
    const decision = autoSetupDecision(armed, ME, role, status)
    if (decision === 'none' || decision === 'wait') continue
    armed = null
    if (decision === 'run') {
      runs += 1
      if (outcome === 'declined') error = Object.assign(new Error('User rejected the request.'), { code: 4001 })
      else succeeded = true
    }
  }
  if (succeeded) status = 'present'
  const view: KeyView = { status, pending: false, starting: false, succeeded, error, dismissed: false }
  return { runs, notice: keyNotice(view), phase: keyPhase(view), error }
}

describe('setup at sign-in, once', () => {
  it('runs once when the key is missing (404)', () => {
    expect(afterSignIn('patient', ['checking', 'missing'], 'ok')).toMatchObject({ runs: 1, notice: 'done', phase: 'present' })
    expect(afterSignIn('doctor', ['checking', 'missing'], 'ok')).toMatchObject({ runs: 1 })
  })

  it('is skipped when a key exists, and for registrars', () => {
    expect(afterSignIn('patient', ['checking', 'present'], 'ok')).toMatchObject({ runs: 0, notice: 'none', phase: 'present' })
    expect(afterSignIn('registrar', ['checking', 'missing'], 'ok')).toMatchObject({ runs: 0 })
  })

  it('a declined signature leaves a retry notice and never prompts again by itself', () => {
    // The query still answers 404 after the decline (and on every later render): no second prompt.
    const result = afterSignIn('patient', ['checking', 'missing', 'missing', 'checking', 'missing'], 'declined')
    expect(result).toMatchObject({ runs: 1, notice: 'retry', phase: 'missing' })
    expect(readableError(result.error)).toMatch(/You declined the request/)
  })

  it('does not start for a session restored on reload (nothing armed) or for another address', () => {
    expect(autoSetupDecision(null, ME, 'patient', 'missing')).toBe('none')
    expect(autoSetupDecision('0x0000000000000000000000000000000000000001', ME, 'patient', 'missing')).toBe('disarm')
  })

  it('a tampered key shows the verification error, not the setup', () => {
    expect(afterSignIn('patient', ['checking', 'invalid'], 'ok')).toMatchObject({ runs: 0, notice: 'invalid', phase: 'invalid' })
  })
})

describe('the key notice', () => {
  const base: KeyView = { status: 'missing', pending: false, starting: false, succeeded: false, error: null, dismissed: false }
  it('explains while the wallet is asked, and can be dismissed', () => {
    expect(keyNotice({ ...base, pending: true })).toBe('explain')
    expect(keyPhase({ ...base, pending: true })).toBe('setting-up')
    expect(keyNotice({ ...base, dismissed: true })).toBe('none')
    expect(keyNotice({ ...base, status: 'unavailable' })).toBe('unavailable')
    expect(keyNotice({ ...base, starting: true })).toBe('none')
  })
})
