/**
 * The encryption-key setup right after sign-in (patients and doctors): if the account has no key yet
 * (GET /api/keys/{address} answers 404), the wallet is asked for the two signatures once, each after
 * a plain-words explanation on screen. The first is the session's key signature (signKeyMessage),
 * which the session keeps, so the rest of the session asks for no other. Declined or failed, the app keeps working (nothing depends on
 * the key yet) and a dismissible notice offers "Set up encryption key"; the wallet is never asked
 * again by itself until the next sign-in.
 *
 * Mounted for the app's whole life (not only while signed in), so it sees a sign-in happen: a session
 * restored on reload is not a sign-in and prompts nothing.
 */
import { useMutation } from '@tanstack/react-query'
import { useEffect, useRef, useState } from 'react'
import { flushSync } from 'react-dom'
import { readableError } from '../../api/errors'
import { useAccountKey, useInvalidate } from '../../api/queries'
import type { Role } from '../../api/types'
import { Notice } from '../../components/ui'
import { useSession } from '../../session/SessionContext'
import { useWallet } from '../../wallet/WalletContext'
import { autoSetupDecision, keyNotice, keyPhase, keyStatus, needsKey, setUpAccountKey, type KeySetupStep } from './keySetup'

const whyFor = (role: Role) =>
  role === 'doctor'
    ? 'so patients can share records encrypted for you, and only you can open them'
    : 'so doctors can encrypt records for you, and only you can open them'

/** What the wallet is about to show, what it means and why, in plain words. */
export function KeySetupExplain({ step, role }: { step: KeySetupStep | null; role: Role }) {
  if (step === 'bind') {
    return (
      <p>
        <strong>Step 2 of 2.</strong> Your wallet shows “EncryptionKey” with your address and your new public key. Signing it tells
        everyone this public key is yours, so nobody can swap in another. It is free and not a transaction: it moves nothing and
        approves nothing.
      </p>
    )
  }
  return (
    <p>
      <strong>Step 1 of 2.</strong> Your wallet shows a fixed text from HealthLedger. Your encryption key is computed from your signature
      of it, so only your wallet can recreate it. The signature stays in this tab's memory only, until you sign out, so opening or
      adding records does not ask for it again this session. It is free and not a transaction: it moves nothing and approves nothing.
      Why: {whyFor(role)}.
    </p>
  )
}

const BINDING_INVALID =
  'The encryption key stored for your account failed its signature check, so HealthLedger will not use it. Please contact support.'

export function AccountKeySetup() {
  const { api, session, signKeyMessage } = useSession()
  const wallet = useWallet()
  const invalidate = useInvalidate()
  const address = session && needsKey(session.role) ? session.address : null
  const query = useAccountKey(address)
  const status = keyStatus(query)
  const [step, setStep] = useState<KeySetupStep | null>(null)
  const [dismissed, setDismissed] = useState(false)

  const setup = useMutation({
    mutationFn: async () => {
      if (!wallet.provider || !address) throw new Error('Connect your wallet first.')
      // flushSync: the explanation is on screen before the wallet's prompt opens.
      // The session's key signature: kept for this session, so uploading, opening and approving ask no more.
      return setUpAccountKey({ api, provider: wallet.provider, address, signKey: signKeyMessage, before: (next) => flushSync(() => setStep(next)) })
    },
    onSettled: () => setStep(null),
    onSuccess: () => invalidate('accountKey'),
  })

  const { mutate, reset } = setup
  // The address that has just signed in here (not one restored on reload): set once, cleared on the first decision.
  const seen = useRef(session?.address ?? null)
  const armed = useRef<string | null>(null)
  const current = session?.address ?? null
  useEffect(() => {
    if (current !== seen.current && current) {
      armed.current = current
      setDismissed(false)
      reset() // a new sign-in starts clean: no earlier outcome shown
    }
    if (!current) armed.current = null
    seen.current = current
  }, [current, reset])

  useEffect(() => {
    if (!session || !wallet.account) return
    const decision = autoSetupDecision(armed.current, session.address, session.role, status)
    if (decision === 'none' || decision === 'wait') return
    armed.current = null
    if (decision === 'run') mutate()
  }, [session, wallet.account, status, mutate])

  if (!session || !needsKey(session.role)) return null
  const auto = autoSetupDecision(armed.current, session.address, session.role, status)
  const view = {
    status,
    pending: setup.isPending,
    starting: auto === 'run' || auto === 'wait',
    succeeded: setup.isSuccess,
    error: setup.error,
    dismissed,
  }
  const notice = keyNotice(view)

  return (
    <div className="account-key" data-key-setup={keyPhase(view)}>
      {notice === 'explain' && (
        <Notice kind="info" title="Setting up your encryption key (once)">
          <KeySetupExplain step={step} role={session.role} />
        </Notice>
      )}
      {notice === 'invalid' && (
        <Notice kind="error" title="Your encryption key could not be verified">
          {BINDING_INVALID}
        </Notice>
      )}
      {notice === 'done' && (
        <Notice kind="success" title="Encryption key set up">
          <p>{`Your encryption key is registered, ${whyFor(session.role)}.`}</p>
          <button type="button" className="btn btn-small btn-secondary" onClick={() => setDismissed(true)}>
            Dismiss
          </button>
        </Notice>
      )}
      {notice === 'retry' && (
        <Notice kind="warning" title="Your encryption key is not set up">
          {setup.error ? <p>{readableError(setup.error)}</p> : null}
          <p>
            Everything you use today works without it. Setting it up asks your wallet for two free signatures (no transaction), {whyFor(session.role)}.
          </p>
          <div className="actions">
            <button type="button" className="btn btn-primary" onClick={() => mutate()}>
              Set up encryption key
            </button>{' '}
            <button type="button" className="btn btn-secondary" onClick={() => setDismissed(true)}>
              Dismiss
            </button>
          </div>
        </Notice>
      )}
      {notice === 'unavailable' && (
        <Notice kind="warning" title="Could not check your encryption key">
          <p>{readableError(query.error)}</p>
          <button type="button" className="btn btn-small btn-secondary" onClick={() => void query.refetch()}>
            Check again
          </button>
        </Notice>
      )}
    </div>
  )
}
