/**
 * The offer shown after a revocation: "Cancel anything I signed but was not sent". A signature the
 * patient made (in another tab, or one the service never relayed) stays valid until its deadline,
 * and whoever holds it could still send it, e.g. to give the revoked doctor access again. Signing
 * `invalidateNonce` uses up the vault's current nonce, so every such signature stops working. It is
 * an offer, never automatic: it costs a signature and most people have nothing pending.
 */
import { useMutation } from '@tanstack/react-query'
import { useInvalidate } from '../../api/queries'
import { ErrorNotice, Notice, SignButton } from '../../components/ui'
import { useSession } from '../../session/SessionContext'

/** Sign and send `invalidateNonce` for the patient's own vault. */
export function useCancelPendingSignatures() {
  const { api, signAction } = useSession()
  const invalidate = useInvalidate()
  return useMutation({
    mutationFn: async () => {
      const signed = await signAction('invalidateNonce', {})
      return api.signing.invalidateNonce({ signature: signed.signature, nonce: signed.nonce, deadline: signed.deadline })
    },
    onSuccess: () => invalidate('patientAudit'),
  })
}

/** `revoked` says what was just revoked ("all access for Dr. Ada"); `onDismiss` hides the offer. */
export function CancelSignaturesOffer({ revoked, onDismiss }: { revoked: string; onDismiss: () => void }) {
  const cancel = useCancelPendingSignatures()
  if (cancel.isSuccess) {
    return (
      <Notice kind="success" title="Pending signatures cancelled">
        Anything you signed but was not sent can no longer be used.{' '}
        <button type="button" className="btn btn-small btn-secondary" onClick={onDismiss}>
          Close
        </button>
      </Notice>
    )
  }
  return (
    <section className="notice notice-info" aria-label="Cancel unsent signatures">
      <strong className="notice-title">Also cancel anything you signed but was not sent?</strong>
      <p>
        You revoked {revoked}. If you signed something earlier that HealthLedger never sent (for example an approval in another window), it
        could still be used until it expires. Cancelling makes every such signature useless; nothing already done changes.
      </p>
      <div className="row">
        <SignButton
          variant="secondary"
          onClick={() => cancel.mutate()}
          busy={cancel.isPending}
          explain="Signs an “InvalidateNonce” instruction (EIP-712); HealthLedger sends it to your vault and pays the fee."
        >
          Cancel anything I signed but was not sent
        </SignButton>
        <button type="button" className="btn btn-secondary" onClick={onDismiss} disabled={cancel.isPending}>
          No, thanks
        </button>
      </div>
      <ErrorNotice error={cancel.error} title="Nothing was cancelled" />
    </section>
  )
}
