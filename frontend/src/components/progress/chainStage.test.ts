import { describe, expect, it } from 'vitest'
import { buttonLabel, IDLE, isRunning, nextChainState, stepsOf, type ChainEvent, type ChainState } from './chainStage'

const TX = `0x${'ab'.repeat(32)}`
const run = (...events: ChainEvent[]): ChainState => events.reduce(nextChainState, IDLE)

describe('chain stage machine', () => {
  it('goes sign -> sending -> done, and the button stops waiting for the wallet once it signed', () => {
    const signing = run({ type: 'start' })
    expect(signing.stage).toBe('signing')
    expect(buttonLabel(signing.stage)).toBe('Waiting for your wallet…')
    const sending = nextChainState(signing, { type: 'signed' })
    expect(sending.stage).toBe('sending')
    expect(buttonLabel(sending.stage)).toBe('Sending…')
    const done = nextChainState(sending, { type: 'done', txHash: TX })
    expect(done).toMatchObject({ stage: 'done', txHash: TX })
    expect(buttonLabel(done.stage)).toBeNull()
  })

  it('passes through confirming with a count when the transaction is not mined yet', () => {
    const state = run({ type: 'start' }, { type: 'signed' }, { type: 'confirming', txHash: TX, confirmations: { seen: 1, needed: 3 } })
    expect(state.stage).toBe('confirming')
    expect(stepsOf(state).map((s) => [s.label, s.state])).toEqual([
      ['Sign in your wallet', 'done'],
      ['Sending', 'done'],
      ['Confirming (1 of 3)', 'current'],
      ['Done', 'todo'],
    ])
    expect(nextChainState(state, { type: 'done' })).toMatchObject({ stage: 'done', txHash: TX })
  })

  it('ignores events that do not fit the stage', () => {
    const signing = run({ type: 'start' })
    expect(nextChainState(signing, { type: 'done', txHash: TX })).toBe(signing) // cannot finish before signing
    expect(nextChainState(signing, { type: 'start', key: 'other' })).toBe(signing) // one action at a time
    expect(nextChainState(signing, { type: 'reset' })).toBe(signing) // a running action is not wiped
    const done = run({ type: 'start' }, { type: 'signed' }, { type: 'done' })
    expect(nextChainState(done, { type: 'signed' })).toBe(done)
    expect(nextChainState(done, { type: 'failed', error: new Error('late') })).toBe(done)
    expect(nextChainState(IDLE, { type: 'signed' })).toBe(IDLE)
  })

  it('marks the step a failure happened in', () => {
    const refused = run({ type: 'start' }, { type: 'failed', error: new Error('User rejected') })
    expect(refused).toMatchObject({ stage: 'failed', failedAt: 'signing' })
    expect(stepsOf(refused)[0]).toMatchObject({ id: 'signing', state: 'failed' })
    const reverted = run({ type: 'start' }, { type: 'signed' }, { type: 'failed', error: new Error('revert') })
    expect(stepsOf(reverted).map((s) => s.state)).toEqual(['done', 'failed', 'todo', 'todo'])
    expect(isRunning(reverted.stage)).toBe(false)
    expect(nextChainState(reverted, { type: 'start' }).stage).toBe('signing') // a retry starts over
  })

  it('starts at sending for actions the wallet does not sign, without a signing step', () => {
    const state = run({ type: 'start', signs: false, key: 'register' })
    expect(state).toMatchObject({ stage: 'sending', key: 'register' })
    expect(stepsOf(state).map((s) => s.id)).toEqual(['sending', 'confirming', 'done'])
  })
})

