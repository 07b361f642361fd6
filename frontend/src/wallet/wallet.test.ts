import { describe, expect, it } from 'vitest'
import { hexToString } from 'viem'
import type { TypedDataPayload } from '../api/types'
import { localChainParams, parseChainId, switchToChain } from './chain'
import { discoverProviders, LEGACY_UUID, type DiscoveryTarget } from './discovery'
import { personalSign, signTypedDataV4, typedDataJson, withDomainType } from './signing'
import type { EIP1193Provider, EIP6963ProviderDetail } from './types'

function fakeProvider(handler: (method: string, params: unknown) => unknown): EIP1193Provider & { calls: [string, unknown][] } {
  const calls: [string, unknown][] = []
  return {
    calls,
    async request({ method, params }) {
      calls.push([method, params])
      return handler(method, params)
    },
  }
}

function announce(target: EventTarget, detail: EIP6963ProviderDetail) {
  target.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail }))
}

describe('EIP-6963 discovery', () => {
  it('collects announced providers, answering requestProvider, without duplicates', async () => {
    const target = new EventTarget() as EventTarget & DiscoveryTarget
    const a = fakeProvider(() => null)
    const b = fakeProvider(() => null)
    target.addEventListener('eip6963:requestProvider', () => {
      announce(target, { info: { uuid: 'a', name: 'Wallet A', icon: '', rdns: 'a.example' }, provider: a })
      announce(target, { info: { uuid: 'a', name: 'Wallet A', icon: '', rdns: 'a.example' }, provider: a })
    })
    const found = discoverProviders(60, target)
    announce(target, { info: { uuid: 'b', name: 'Wallet B', icon: '', rdns: 'b.example' }, provider: b })
    announce(target, { info: { uuid: 'bad' }, provider: {} } as unknown as EIP6963ProviderDetail)
    const list = await found
    expect(list.map((d) => d.info.name)).toEqual(['Wallet A', 'Wallet B'])
  })

  it('falls back to window.ethereum only when no announcement wraps it', async () => {
    const legacy = fakeProvider(() => null)
    const target = Object.assign(new EventTarget(), { ethereum: legacy }) as EventTarget & DiscoveryTarget
    const list = await discoverProviders(60, target)
    expect(list).toHaveLength(1)
    expect(list[0].info.uuid).toBe(LEGACY_UUID)

    target.addEventListener('eip6963:requestProvider', () =>
      announce(target, { info: { uuid: 'x', name: 'Same wallet', icon: '', rdns: 'x' }, provider: legacy }),
    )
    expect((await discoverProviders(60, target)).map((d) => d.info.uuid)).toEqual(['x'])
  })

  it('finds nothing when there is no wallet', async () => {
    expect(await discoverProviders(30, new EventTarget() as EventTarget & DiscoveryTarget)).toEqual([])
  })
})

describe('chain switching', () => {
  const params = localChainParams(31337, 'http://127.0.0.1:8545')

  it('parses chain ids in every form wallets use', () => {
    expect(parseChainId('0x7a69')).toBe(31337)
    expect(parseChainId('31337')).toBe(31337)
    expect(parseChainId(1)).toBe(1)
    expect(parseChainId(null)).toBeNull()
  })

  it('switches when the wallet knows the chain', async () => {
    const provider = fakeProvider(() => null)
    await switchToChain(provider, params)
    expect(provider.calls).toEqual([['wallet_switchEthereumChain', [{ chainId: '0x7a69' }]]])
  })

  it('adds the chain when the wallet does not know it (4902, also wrapped), then switches', async () => {
    for (const unknown of [{ code: 4902, message: 'Unrecognized chain' }, { code: -32603, message: 'internal', data: { originalError: { code: 4902 } } }]) {
      let known = false
      let current = '0x1'
      // A wallet that adds the chain without switching to it.
      const provider = fakeProvider((method) => {
        if (method === 'wallet_switchEthereumChain') {
          if (!known) throw unknown
          current = '0x7a69'
          return null
        }
        if (method === 'wallet_addEthereumChain') known = true
        if (method === 'eth_chainId') return current
        return null
      })
      await switchToChain(provider, params)
      expect(provider.calls.map(([m]) => m)).toEqual(['wallet_switchEthereumChain', 'wallet_addEthereumChain', 'eth_chainId', 'wallet_switchEthereumChain'])
      expect(provider.calls[1][1]).toEqual([
        { chainId: '0x7a69', chainName: 'HealthLedger local (Anvil)', rpcUrls: ['http://127.0.0.1:8545'], nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 } },
      ])
      expect(current).toBe('0x7a69')
    }
  })

  it('passes other errors (user rejected) through', async () => {
    const provider = fakeProvider(() => {
      throw { code: 4001, message: 'User rejected' }
    })
    await expect(switchToChain(provider, params)).rejects.toMatchObject({ code: 4001 })
    expect(provider.calls).toHaveLength(1)
  })
})

describe('signing through EIP-1193 request', () => {
  const address = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
  const sig = `0x${'11'.repeat(65)}`

  it('personal_sign sends the UTF-8 text hex-encoded with the checksummed address', async () => {
    const provider = fakeProvider(() => sig)
    expect(await personalSign(provider, address, 'héllo\nworld')).toBe(sig)
    const [method, params] = provider.calls[0] as [string, [string, string]]
    expect(method).toBe('personal_sign')
    expect(hexToString(params[0] as `0x${string}`)).toBe('héllo\nworld')
    expect(params[1]).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
  })

  it('refuses a non-signature answer', async () => {
    await expect(personalSign(fakeProvider(() => 'nope'), address, 'x')).rejects.toThrow(/not a signature/)
  })

  const payload: TypedDataPayload = {
    types: { AddRecord: [{ name: 'kind', type: 'uint8' }, { name: 'contentHash', type: 'bytes32' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
    domain: { name: 'HealthRecord', version: '1', chainId: 31337, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' },
    primaryType: 'AddRecord',
    message: { kind: 2, contentHash: `0x${'ab'.repeat(32)}`, nonce: 0, deadline: 1_900_000_000 },
  }

  it('adds EIP712Domain from the domain fields when the payload has none', () => {
    expect(withDomainType(payload).types.EIP712Domain).toEqual([
      { name: 'name', type: 'string' },
      { name: 'version', type: 'string' },
      { name: 'chainId', type: 'uint256' },
      { name: 'verifyingContract', type: 'address' },
    ])
    const already = { ...payload, types: { ...payload.types, EIP712Domain: [{ name: 'name', type: 'string' }] } }
    expect(withDomainType(already)).toBe(already)
  })

  it('eth_signTypedData_v4 gets [address, JSON string]', async () => {
    const provider = fakeProvider(() => sig)
    await signTypedDataV4(provider, address, payload)
    const [method, params] = provider.calls[0] as [string, [string, string]]
    expect(method).toBe('eth_signTypedData_v4')
    expect(params[0]).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
    expect(JSON.parse(params[1])).toEqual(JSON.parse(typedDataJson(payload)))
    expect(JSON.parse(params[1]).primaryType).toBe('AddRecord')
  })
})
