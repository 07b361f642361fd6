/**
 * Setting up an account's encryption key (keys v2), without React, so the flow and the "ask once"
 * rule are unit-tested on their own:
 *
 * 1. the session's key signature (`signKeyMessage`: personal_sign of the one key message, the same
 *    text as GET /api/keys/message): it seeds the key pair, and the session keeps it in memory, so
 *    the upload, open and approve screens of this session do not ask the wallet for it again;
 * 2. POST /api/keys with it: the server answers the public key and the EIP-712 binding to sign;
 * 3. eth_signTypedData_v4 of that binding, then PUT /api/keys registers the key.
 *
 * The wallet signature is a secret (anyone holding it can recreate the private key): here it lives in
 * a local variable for the length of the POST and is never returned or logged; the session holds its
 * one copy in memory (see SessionContext).
 */
import { ApiError } from '../../api/errors'
import type { Api } from '../../api/endpoints'
import type { AccountKey, RegisteredKey, Role } from '../../api/types'
import { parseChainId, readChainId, wrongNetworkMessage } from '../../wallet/chain'
import { signTypedDataV4 } from '../../wallet/signing'
import type { EIP1193Provider } from '../../wallet/types'

/** The two wallet prompts of the setup, in order. */
export type KeySetupStep = 'derive' | 'bind'

export interface KeySetupDeps {
  api: Pick<Api, 'keys'>
  provider: EIP1193Provider
  address: string
  /** The session's key signature (SessionContext.signKeyMessage): asks the wallet only if this session has none yet. */
  signKey: () => Promise<string>
  /** Called before each wallet prompt, so the screen can say what is about to be signed and why. */
  before?: (step: KeySetupStep) => void
}

/** Run the whole setup; resolves with the registered key, rejects on a declined prompt or an API error. */
export async function setUpAccountKey({ api, provider, address, signKey, before }: KeySetupDeps): Promise<RegisteredKey> {
  before?.('derive')
  const { publicKey, typedData } = await api.keys.prepare(await signKey())
  // Like every typed-data prompt in the app: refuse before asking when the wallet is on another network.
  const wanted = parseChainId(typedData.domain.chainId)
  const current = await readChainId(provider).catch(() => null)
  if (wanted !== null && current !== null && wanted !== current) {
    throw new Error(wrongNetworkMessage(current, wanted))
  }
  before?.('bind')
  const signature = await signTypedDataV4(provider, address, typedData)
  return api.keys.register({ publicKey, signature })
}

/** What the app knows about the signed-in account's key. */
export type KeyStatus = 'checking' | 'present' | 'missing' | 'invalid' | 'unavailable'

/** The status from the key query (`data` null: the server answered 404 `key_not_found`). */
export function keyStatus(query: { isPending: boolean; data?: AccountKey | null; error?: unknown }): KeyStatus {
  if (query.error) return query.error instanceof ApiError && query.error.code === 'key_binding_invalid' ? 'invalid' : 'unavailable'
  if (query.isPending || query.data === undefined) return 'checking'
  return query.data ? 'present' : 'missing'
}

/** Registrars neither receive nor open encrypted records: only patients and doctors need a key. */
export const needsKey = (role: Role): boolean => role === 'patient' || role === 'doctor'

/**
 * Whether to start the setup by itself. `armedFor` is the address that has just signed in (set once per
 * sign-in, cleared by the first answer other than `wait`), so the wallet is asked at most once per
 * sign-in: a declined prompt, a reload or a remount never prompts again (the retry is the user's click).
 */
export function autoSetupDecision(armedFor: string | null, address: string, role: Role, status: KeyStatus): 'run' | 'wait' | 'disarm' | 'none' {
  if (!armedFor) return 'none'
  if (armedFor.toLowerCase() !== address.toLowerCase() || !needsKey(role)) return 'disarm'
  if (status === 'checking') return 'wait'
  return status === 'missing' ? 'run' : 'disarm'
}

/** What the key card shows: one notice at most. */
export type KeyNotice = 'none' | 'explain' | 'invalid' | 'done' | 'retry' | 'unavailable'

export interface KeyView {
  status: KeyStatus
  /** The setup is running (a wallet prompt may be open). */
  pending: boolean
  /** The auto-setup is armed and still to decide (`run` or `wait`). */
  starting: boolean
  succeeded: boolean
  /** The setup's last error (declined prompt, wrong network, API error). */
  error: unknown
  dismissed: boolean
}

export function keyNotice({ status, pending, starting, succeeded, error, dismissed }: KeyView): KeyNotice {
  if (status === 'invalid' || (error instanceof ApiError && error.code === 'key_binding_invalid')) return 'invalid'
  if (pending) return 'explain'
  if (starting || dismissed) return 'none'
  if (status === 'missing') return 'retry'
  if (status === 'unavailable') return 'unavailable'
  return status === 'present' && succeeded ? 'done' : 'none'
}

/** A settled phase for the page (tests wait on it): `setting-up` while anything is still to happen. */
export function keyPhase(view: KeyView): KeyStatus | 'setting-up' {
  if (view.status === 'invalid') return 'invalid'
  return view.pending || view.starting ? 'setting-up' : view.status
}
