/**
 * The stages every chain action goes through, as a small state machine the buttons and the progress
 * list read: sign in the wallet -> sending (the request to HealthLedger, which relays the transaction
 * and usually waits for its block) -> confirming (sent, not yet mined or not yet deep enough) -> done.
 *
 * Why a machine rather than a `busy` flag: a flag cannot say that the wallet has already signed, so
 * buttons kept saying "Waiting for your wallet…" through relaying and mining. Events that make no
 * sense in the current stage (a late progress event after a failure, a second `signed`) are ignored,
 * so a stale callback can never move a finished action backwards.
 */
export type ChainStage = 'idle' | 'signing' | 'sending' | 'confirming' | 'done' | 'failed'

export interface Confirmations {
  /** Blocks seen on top of (and including) the transaction's block. */
  seen: number
  /** Blocks needed before the server counts it as confirmed. */
  needed: number
}

export interface ChainState {
  stage: ChainStage
  /** Which of several buttons sharing one machine started the action (e.g. `revoke:0xabc…`). */
  key: string | null
  /** Whether the action asks the wallet first (registering a doctor does not). */
  signs: boolean
  txHash: string | null
  confirmations: Confirmations | null
  error: unknown
  /** The stage a failed action was in (the wallet refused: signing; the server or chain: later). */
  failedAt: 'signing' | 'sending' | 'confirming' | null
}

export type ChainEvent =
  | { type: 'start'; key?: string | null; signs?: boolean }
  | { type: 'signed' }
  | { type: 'sent'; txHash?: string | null }
  | { type: 'confirming'; txHash?: string | null; confirmations?: Confirmations | null }
  | { type: 'done'; txHash?: string | null; confirmations?: Confirmations | null }
  | { type: 'failed'; error: unknown }
  | { type: 'reset' }

export const IDLE: ChainState = { stage: 'idle', key: null, signs: true, txHash: null, confirmations: null, error: null, failedAt: null }

/** Stages in which the action is under way (buttons disabled, leaving the page warned about). */
export function isRunning(stage: ChainStage): boolean {
  return stage === 'signing' || stage === 'sending' || stage === 'confirming'
}

/** The next state of `state` after `event` (the same object when the event does not apply). */
export function nextChainState(state: ChainState, event: ChainEvent): ChainState {
  switch (event.type) {
    case 'start':
      if (isRunning(state.stage)) return state // one action at a time per machine
      return { ...IDLE, key: event.key ?? null, signs: event.signs ?? true, stage: event.signs === false ? 'sending' : 'signing' }
    case 'signed':
      return state.stage === 'signing' ? { ...state, stage: 'sending' } : state
    case 'sent':
      return state.stage === 'sending' ? { ...state, txHash: event.txHash ?? state.txHash } : state
    case 'confirming':
      if (state.stage !== 'sending' && state.stage !== 'confirming') return state
      return { ...state, stage: 'confirming', txHash: event.txHash ?? state.txHash, confirmations: event.confirmations ?? state.confirmations }
    case 'done':
      if (state.stage !== 'sending' && state.stage !== 'confirming') return state
      return { ...state, stage: 'done', txHash: event.txHash ?? state.txHash, confirmations: event.confirmations ?? null }
    case 'failed':
      if (state.stage !== 'signing' && state.stage !== 'sending' && state.stage !== 'confirming') return state
      return { ...state, stage: 'failed', error: event.error, failedAt: state.stage }
    case 'reset':
      return isRunning(state.stage) ? state : IDLE
  }
}

/** What a button says while its action runs (null: its normal label). */
export function buttonLabel(stage: ChainStage): string | null {
  switch (stage) {
    case 'signing':
      return 'Waiting for your wallet…'
    case 'sending':
      return 'Sending…'
    case 'confirming':
      return 'Confirming…'
    default:
      return null
  }
}

export type StepState = 'done' | 'current' | 'todo' | 'failed'

export interface Step {
  id: 'signing' | 'sending' | 'confirming' | 'done'
  label: string
  state: StepState
}

const ORDER: Step['id'][] = ['signing', 'sending', 'confirming', 'done']

/**
 * The steps shown under an action, each done, current, to do or failed. A failure marks the step it
 * happened in (the wallet refused: signing; the server or the chain refused: sending/confirming).
 */
export function stepsOf(state: ChainState): Step[] {
  const ids = state.signs ? ORDER : ORDER.slice(1)
  const current: Step['id'] | null =
    state.stage === 'idle' ? null : state.stage === 'failed' ? state.failedAt : state.stage === 'done' ? 'done' : state.stage
  const at = current === null ? -1 : ids.indexOf(current)
  return ids.map((id, index) => ({
    id,
    label: stepLabel(id, state),
    state:
      state.stage === 'done' ? 'done' : index < at ? 'done' : index === at ? (state.stage === 'failed' ? 'failed' : 'current') : 'todo',
  }))
}

function stepLabel(id: Step['id'], state: ChainState): string {
  switch (id) {
    case 'signing':
      return 'Sign in your wallet'
    case 'sending':
      return 'Sending'
    case 'confirming':
      return state.confirmations && state.confirmations.needed > 0
        ? `Confirming (${Math.min(state.confirmations.seen, state.confirmations.needed)} of ${state.confirmations.needed})`
        : 'Confirming'
    case 'done':
      return 'Done'
  }
}
