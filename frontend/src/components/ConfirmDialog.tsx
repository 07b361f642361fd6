/**
 * A confirmation before a change that takes something away (revoking a doctor's records, revoking
 * everything, unregistering a doctor): a modal `<dialog>` that says what will happen, with the focus
 * on the safe button ("Cancel"), so Enter or Escape never does the harmful thing by accident. The
 * native dialog gives the modal focus trap, the backdrop and Escape (its `cancel` event) for free.
 */
import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from 'react'
import './ConfirmDialog.css'

export interface ConfirmOptions {
  /** The question, e.g. "Revoke Invoice March for Dr Lopez?" */
  title: string
  /** What will happen, in plain words. */
  body: ReactNode
  /** The label of the button that goes ahead, e.g. "Revoke". */
  confirmLabel: string
}

export function ConfirmDialog({
  options,
  onConfirm,
  onCancel,
}: {
  /** The open confirmation, or null when closed. */
  options: ConfirmOptions | null
  onConfirm: () => void
  onCancel: () => void
}) {
  const ref = useRef<HTMLDialogElement>(null)
  const cancelRef = useRef<HTMLButtonElement>(null)
  const titleId = useId()
  const bodyId = useId()
  const open = options !== null

  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    if (open && !dialog.open) {
      dialog.showModal()
      cancelRef.current?.focus() // the safe choice
    } else if (!open && dialog.open) {
      dialog.close()
    }
  }, [open])

  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    // Escape: the browser closes the dialog itself; we keep the state in charge of it.
    const cancel = (event: Event) => {
      event.preventDefault()
      onCancel()
    }
    dialog.addEventListener('cancel', cancel)
    return () => dialog.removeEventListener('cancel', cancel)
  }, [onCancel])

  return (
    <dialog ref={ref} className="confirm-dialog" aria-labelledby={titleId} aria-describedby={bodyId}>
      {options && (
        <>
          <h2 id={titleId} className="confirm-title">
            {options.title}
          </h2>
          <div id={bodyId} className="confirm-body">
            {options.body}
          </div>
          <div className="confirm-actions">
            <button ref={cancelRef} type="button" className="btn btn-secondary" onClick={onCancel}>
              Cancel
            </button>
            <button type="button" className="btn btn-danger" onClick={onConfirm}>
              {options.confirmLabel}
            </button>
          </div>
        </>
      )}
    </dialog>
  )
}

/**
 * Ask before acting: `confirm(options, action)` opens the dialog and runs `action` only on the
 * confirm button; render `dialog` once in the screen.
 */
export function useConfirm(): { confirm: (options: ConfirmOptions, action: () => void) => void; dialog: ReactNode } {
  const [pending, setPending] = useState<{ options: ConfirmOptions; action: () => void } | null>(null)
  const confirm = useCallback((options: ConfirmOptions, action: () => void) => setPending({ options, action }), [])
  const onCancel = useCallback(() => setPending(null), [])
  const onConfirm = useCallback(() => {
    setPending((current) => {
      if (current) queueMicrotask(current.action)
      return null
    })
  }, [])
  return { confirm, dialog: <ConfirmDialog options={pending?.options ?? null} onConfirm={onConfirm} onCancel={onCancel} /> }
}
