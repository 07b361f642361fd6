/**
 * Following a mined transaction until it is as deep as the server wants (CONFIRMATIONS + 1 blocks),
 * so the "Confirming (n of m)" step shows the true count from the server, not a guess. With the dev
 * chain's automine and CONFIRMATIONS=0 this is one call answering "1 of 1".
 *
 * A failed count never fails the action: the transaction is already mined when this runs, so an
 * outage of the count only leaves the step without numbers.
 */
import type { Confirmations } from './chainStage'

export type DepthOf = (txHash: string, signal?: AbortSignal) => Promise<{ seen: number; needed: number }>

export interface FollowOptions {
  pollMs?: number
  timeoutMs?: number
  signal?: AbortSignal
  /** Injected in tests; a real timer otherwise. */
  wait?: (ms: number, signal?: AbortSignal) => Promise<void>
  now?: () => number
}

function defaultWait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/** Ask for the depth of `txHash` until confirmed (or timed out / aborted), reporting each count; the last count or null. */
export async function followConfirmations(
  depthOf: DepthOf,
  txHash: string,
  onCount: (count: Confirmations) => void,
  { pollMs = 1000, timeoutMs = 120_000, signal, wait = defaultWait, now = Date.now }: FollowOptions = {},
): Promise<Confirmations | null> {
  const until = now() + timeoutMs
  let last: Confirmations | null = null
  while (!signal?.aborted) {
    try {
      const { seen, needed } = await depthOf(txHash, signal)
      last = { seen, needed }
      onCount(last)
      if (seen >= needed) return last
    } catch {
      return last
    }
    if (now() + pollMs > until) return last
    await wait(pollMs, signal)
  }
  return last
}

/** "file 2 of 3" for multi-file uploads; nothing for a single file. */
export function fileOfText(index: number, total: number): string | null {
  return total > 1 ? `file ${index + 1} of ${total}` : null
}
