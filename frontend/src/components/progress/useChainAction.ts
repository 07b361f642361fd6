/**
 * `useChainAction`: one stage machine (chainStage.ts) per screen part, and `run` that moves it as a
 * signed action goes: `signed()` after the wallet answers, then the request's answer gives the
 * transaction hash. Screens keep their TanStack mutations; `run` goes inside the mutationFn.
 * Once the answer names the transaction, `run` asks the server how deep it is until it counts as
 * confirmed ("Confirming (n of m)"), then finishes at done with that count.
 */
import { useCallback, useMemo, useReducer, useRef } from 'react'
import { useSession } from '../../session/SessionContext'
import { IDLE, nextChainState, type ChainEvent, type ChainState, type Confirmations } from './chainStage'
import { followConfirmations } from './confirmations'

export interface ChainStep {
  /** Call when the wallet has signed: the button stops saying "Waiting for your wallet…". */
  signed(): void
  /** The transaction is sent but not mined (or not deep enough) yet. */
  confirming(txHash?: string | null, confirmations?: Confirmations | null): void
}

export interface RunOptions<T> {
  /** Which button started it, when several share one machine. */
  key?: string
  /** False for actions the server signs for (registering a doctor): they start at "Sending". */
  signs?: boolean
  /** The transaction hash in the answer (most relayed actions return `tx_hash`). */
  txHashOf?: (result: T) => string | null | undefined
}

export interface ChainAction {
  state: ChainState
  /** Run `work`, moving the stages; resolves or rejects like `work`. */
  run<T>(work: (step: ChainStep) => Promise<T>, options?: RunOptions<T>): Promise<T>
  /** The stage of the button named `key` (idle when another button's action is the one running). */
  stageOf(key: string): ChainState['stage']
  dispatch(event: ChainEvent): void
  reset(): void
}

const defaultTxHash = (result: unknown): string | null => {
  if (result && typeof result === 'object' && 'tx_hash' in result) {
    const hash = (result as { tx_hash?: unknown }).tx_hash
    return typeof hash === 'string' ? hash : null
  }
  return null
}

export function useChainAction(): ChainAction {
  const [state, dispatch] = useReducer(nextChainState, IDLE)
  const { api } = useSession()
  // Each run gets a number; events of an older run (its wallet prompt answered late) are dropped.
  const runId = useRef(0)

  const run = useCallback(async <T,>(work: (step: ChainStep) => Promise<T>, options: RunOptions<T> = {}): Promise<T> => {
    const id = ++runId.current
    const send = (event: ChainEvent) => {
      if (runId.current === id) dispatch(event)
    }
    send({ type: 'start', key: options.key ?? null, signs: options.signs ?? true })
    try {
      const result = await work({
        signed: () => send({ type: 'signed' }),
        confirming: (txHash, confirmations) => send({ type: 'confirming', txHash, confirmations }),
      })
      const txHash = (options.txHashOf ?? defaultTxHash)(result) ?? null
      const confirmations = txHash
        ? await followConfirmations(api.system.transaction, txHash, (count) => send({ type: 'confirming', txHash, confirmations: count }))
        : null
      send({ type: 'done', txHash, confirmations })
      return result
    } catch (error) {
      send({ type: 'failed', error })
      throw error
    }
  }, [api])

  return useMemo(
    () => ({
      state,
      run,
      stageOf: (key: string) => (state.key === key ? state.stage : 'idle'),
      dispatch,
      reset: () => dispatch({ type: 'reset' }),
    }),
    [state, run],
  )
}
