/** The once-per-session key-derivation signature, with what it is and why, in plain words. */
import { useMutation } from '@tanstack/react-query'
import { useEffect } from 'react'
import { Badge, ErrorNotice, SignButton } from '../../components/ui'
import { useSession } from '../../session/SessionContext'

export function KeySignatureExplain() {
  return (
    <>
      Your wallet signs a fixed text published by HealthLedger. Your file-encryption key is computed from that signature, so only
      your wallet can recreate it. It is not a transaction and approves nothing. The signature is kept in this tab's memory only and
      forgotten when you sign out, switch account or close the tab; you sign it once per session.
    </>
  )
}

export function KeySignatureStep({ compact = false }: { compact?: boolean }) {
  const { keySignature, signKeyMessage, keyMessage, loadKeyMessage } = useSession()
  const sign = useMutation({ mutationFn: () => signKeyMessage() })

  useEffect(() => {
    if (!keySignature) loadKeyMessage().catch(() => undefined)
  }, [keySignature, loadKeyMessage])

  if (keySignature) {
    return (
      <p>
        <Badge kind="ok">Encryption key unlocked</Badge> <span className="muted">for this session</span>
      </p>
    )
  }
  return (
    <div>
      <SignButton onClick={() => sign.mutate()} busy={sign.isPending} explain={compact ? undefined : <KeySignatureExplain />}>
        Sign the key message (unlocks your encryption key, no transaction)
      </SignButton>
      {keyMessage && (
        <details className="small">
          <summary>Show the exact text you will sign</summary>
          <pre className="signed-text">{keyMessage.message}</pre>
        </details>
      )}
      <ErrorNotice error={sign.error} title="The key message was not signed" />
    </div>
  )
}
