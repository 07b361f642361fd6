import { describe, expect, it } from 'vitest'
import { followConfirmations, fileOfText } from './confirmations'
import { IDLE, nextChainState, stepsOf, type ChainEvent } from './chainStage'

const TX = '0x' + 'ab'.repeat(32)
const noWait = () => Promise.resolve()

describe('followConfirmations', () => {
  it('reports each count until the server counts the transaction as confirmed', async () => {
    const answers = [
      { seen: 1, needed: 3 },
      { seen: 2, needed: 3 },
      { seen: 3, needed: 3 },
    ]
    const seen: string[] = []
    const last = await followConfirmations(async () => answers.shift()!, TX, (c) => seen.push(`${c.seen}/${c.needed}`), { wait: noWait })
    expect(seen).toEqual(['1/3', '2/3', '3/3'])
    expect(last).toEqual({ seen: 3, needed: 3 })
  })

  it('answers once for an automined chain (1 of 1)', async () => {
    let calls = 0
    const last = await followConfirmations(async () => (calls++, { seen: 1, needed: 1 }), TX, () => {}, { wait: noWait })
    expect(calls).toBe(1)
    expect(last).toEqual({ seen: 1, needed: 1 })
  })

  it('keeps the last count when the count fails (the action itself is done)', async () => {
    let calls = 0
    const last = await followConfirmations(
      async () => {
        if (calls++ === 0) return { seen: 1, needed: 2 }
        throw new Error('502')
      },
      TX,
      () => {},
      { wait: noWait },
    )
    expect(last).toEqual({ seen: 1, needed: 2 })
  })

  it('stops at the timeout', async () => {
    let clock = 0
    const last = await followConfirmations(async () => ({ seen: 1, needed: 5 }), TX, () => {}, {
      wait: async (ms) => void (clock += ms),
      now: () => clock,
      pollMs: 1000,
      timeoutMs: 3000,
    })
    expect(last).toEqual({ seen: 1, needed: 5 })
    expect(clock).toBeLessThanOrEqual(3000)
  })
})

describe('confirming step text', () => {
  const run = (...events: ChainEvent[]) => events.reduce(nextChainState, IDLE)
  it('says "Confirming (2 of 3)" while confirming and keeps the true count when done', () => {
    const confirming = run({ type: 'start' }, { type: 'signed' }, { type: 'confirming', txHash: TX, confirmations: { seen: 2, needed: 3 } })
    expect(stepsOf(confirming).find((s) => s.id === 'confirming')?.label).toBe('Confirming (2 of 3)')
    const done = nextChainState(confirming, { type: 'done', txHash: TX, confirmations: { seen: 3, needed: 3 } })
    expect(stepsOf(done).find((s) => s.id === 'confirming')).toEqual({ id: 'confirming', label: 'Confirming (3 of 3)', state: 'done' })
  })
  it('shows "1 of 1" on an automined chain', () => {
    const done = run({ type: 'start' }, { type: 'signed' }, { type: 'done', txHash: TX, confirmations: { seen: 1, needed: 1 } })
    expect(stepsOf(done).find((s) => s.id === 'confirming')?.label).toBe('Confirming (1 of 1)')
  })
})

describe('fileOfText', () => {
  it('counts files only when there are several', () => {
    expect(fileOfText(1, 3)).toBe('file 2 of 3')
    expect(fileOfText(0, 1)).toBeNull()
  })
})
