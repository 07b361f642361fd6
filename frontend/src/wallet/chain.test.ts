import { describe, expect, it } from 'vitest'
import { networkName } from './chain'

describe('networkName', () => {
  it('names the networks people meet', () => {
    expect(networkName(31337)).toBe('Local test network (Anvil)')
    expect(networkName(11155111)).toBe('Sepolia test network')
    expect(networkName(1)).toBe('Ethereum')
  })

  it('falls back to the id for other networks and says so for none', () => {
    expect(networkName(137)).toBe('Network 137')
    expect(networkName(null)).toBe('Unknown network')
  })
})
