/**
 * What a chain action shows: the button's label follows the stage (`StageButton`), and under it the
 * steps sign in wallet -> sending -> confirming -> done (`ChainProgress`), with a link to the
 * transaction when the server publishes a block explorer URL, else its hash.
 */
import type { ReactNode } from 'react'
import { useSession } from '../../session/SessionContext'
import { txUrl } from '../../lib/explorer'
import { SigningExplain } from '../ui'
import { buttonLabel, isRunning, stepsOf, type ChainStage, type ChainState } from './chainStage'
import './progress.css'

/** A transaction: a link to the explorer when one is configured, else the hash itself. */
export function TxLink({ hash }: { hash: string | null | undefined }) {
  const { config } = useSession()
  if (!hash) return null
  const url = txUrl(config.block_explorer_url, hash)
  return url ? (
    <a href={url} target="_blank" rel="noreferrer noopener" className="tx-link">
      View the transaction <code>{hash.slice(0, 10)}…</code>
    </a>
  ) : (
    <code className="tx-hash" title="Transaction hash">
      {hash}
    </code>
  )
}

/** The steps of one action; nothing while idle. `detail` adds a line under the current step (e.g. the upload bar). */
export function ChainProgress({ state, detail, label }: { state: ChainState; detail?: ReactNode; label?: string }) {
  if (state.stage === 'idle') return null
  const steps = stepsOf(state)
  return (
    <div className="chain-progress" aria-live="polite" data-stage={state.stage}>
      <ol aria-label={label ?? 'Progress'}>
        {steps.map((step) => (
          <li key={step.id} className={`chain-step chain-step-${step.state}`} aria-current={step.state === 'current' ? 'step' : undefined}>
            <span className="chain-step-mark" aria-hidden="true">
              {step.state === 'done' ? '✓' : step.state === 'failed' ? '✕' : step.state === 'current' ? '●' : '○'}
            </span>
            {step.label}
            {step.state === 'failed' && <span className="visually-hidden"> (failed)</span>}
          </li>
        ))}
      </ol>
      {detail && isRunning(state.stage) && <div className="chain-detail">{detail}</div>}
      {(state.stage === 'done' || state.stage === 'confirming') && state.txHash && (
        <p className="chain-tx">
          <TxLink hash={state.txHash} />
        </p>
      )}
    </div>
  )
}

/**
 * A button that starts a chain action. While it runs, its label says the stage ("Waiting for your
 * wallet…", "Sending…", "Confirming…") instead of staying on the wallet after the wallet has signed.
 */
export function StageButton({
  children,
  stage,
  onClick,
  disabled,
  variant = 'primary',
  signs = true,
  explain,
  type = 'button',
  className,
}: {
  children: ReactNode
  stage: ChainStage
  onClick?: () => void
  disabled?: boolean
  variant?: 'primary' | 'secondary' | 'danger'
  signs?: boolean
  explain?: ReactNode
  type?: 'button' | 'submit'
  className?: string
}) {
  const running = isRunning(stage)
  const label = buttonLabel(stage)
  const button = (
    <button
      type={type}
      className={`btn btn-${variant}${className ? ` ${className}` : ''}`}
      onClick={onClick}
      disabled={disabled || running}
      aria-busy={running || undefined}
      data-stage={stage}
    >
      {signs && (
        <span aria-hidden="true" className="sign-icon">
          ✍
        </span>
      )}{' '}
      {label ?? children}
    </button>
  )
  if (!explain) return button
  return (
    <div className="sign-action">
      {button}
      <SigningExplain explain={explain} />
    </div>
  )
}
