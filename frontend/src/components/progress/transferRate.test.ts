import { describe, expect, it } from 'vitest'
import { addSample, formatRate, formatTimeLeft, rateOf, secondsLeft, type Sample } from './transferRate'

const feed = (points: [number, number][], windowMs?: number): Sample[] =>
  points.reduce<Sample[]>((samples, [at, loaded]) => addSample(samples, { at, loaded }, windowMs), [])

describe('upload rate and time left', () => {
  it('measures bytes per second over the window', () => {
    const samples = feed([
      [0, 0],
      [500, 1_000_000],
      [1000, 2_000_000],
    ])
    expect(rateOf(samples)).toBe(2_000_000)
    expect(formatRate(rateOf(samples))).toBe('2.0 MB/s')
    expect(secondsLeft(2_000_000, 10_000_000, 2_000_000)).toBe(4)
    expect(formatTimeLeft(4)).toBe('4 s left')
  })

  it('forgets samples older than the window, so a fast start does not hide a slowdown', () => {
    const samples = feed(
      [
        [0, 0],
        [1000, 10_000_000], // a burst
        [2000, 10_500_000],
        [3000, 11_000_000],
        [4000, 11_500_000],
      ],
      2000,
    )
    expect(samples[0].at).toBe(2000)
    expect(rateOf(samples)).toBe(500_000)
  })

  it('gives no rate too early and no time left without progress', () => {
    expect(rateOf(feed([[0, 0]]))).toBeNull()
    expect(rateOf(feed([[0, 0], [100, 50]]))).toBeNull()
    expect(secondsLeft(10, 100, null)).toBeNull()
    expect(secondsLeft(10, 100, 0)).toBeNull()
    expect(formatTimeLeft(null)).toBe('')
    expect(formatRate(null)).toBe('')
  })

  it('starts a new series when the count goes back (a retried request)', () => {
    const samples = feed([
      [0, 0],
      [1000, 5_000_000],
      [1500, 100],
    ])
    expect(samples).toEqual([{ at: 1500, loaded: 100 }])
  })

  it('words long waits in minutes and hours', () => {
    expect(formatTimeLeft(125)).toBe('2 min 5 s left')
    expect(formatTimeLeft(4800)).toBe('about 1 h 20 min left')
    expect(formatRate(25_400_000)).toBe('25 MB/s')
    expect(formatRate(40_000)).toBe('0.04 MB/s')
  })
})
