/**
 * React state for the wallet: which providers exist, which one the user chose, its selected account
 * and chain, kept current through `accountsChanged` / `chainChanged` / `disconnect`.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { getAddress } from 'viem'
import { parseChainId, readChainId, switchToChain } from './chain'
import { watchProviders, type DiscoveryTarget } from './discovery'
import { currentAccounts, requestAccounts } from './signing'
import type { ChainParams, EIP1193Provider, EIP6963ProviderDetail, ProviderListener } from './types'

export type DiscoveryState = 'searching' | 'none' | 'found'

export interface WalletState {
  discovery: DiscoveryState
  providers: EIP6963ProviderDetail[]
  selected: EIP6963ProviderDetail | null
  provider: EIP1193Provider | null
  account: string | null
  chainId: number | null
  connecting: boolean
  connect(detail?: EIP6963ProviderDetail): Promise<string | null>
  disconnect(): void
  /** The chain the backend runs on, once known; wrongChain is true while the wallet is elsewhere. */
  expectedChain: ChainParams | null
  setExpectedChain(params: ChainParams | null): void
  wrongChain: boolean
  switchChain(): Promise<void>
}

const WalletContext = createContext<WalletState | null>(null)
const CHOICE_KEY = 'healthledger.wallet' // which wallet the user picked (its rdns): not sensitive

function normalise(accounts: unknown): string | null {
  if (!Array.isArray(accounts) || accounts.length === 0) return null
  try {
    return getAddress(String(accounts[0]))
  } catch {
    return null
  }
}

function rememberedChoice(): string | null {
  try {
    return globalThis.localStorage?.getItem(CHOICE_KEY) ?? null
  } catch {
    return null
  }
}

function remember(rdns: string | null): void {
  try {
    if (rdns) globalThis.localStorage?.setItem(CHOICE_KEY, rdns)
    else globalThis.localStorage?.removeItem(CHOICE_KEY)
  } catch {
    /* storage disabled */
  }
}

export function WalletProvider({ children, legacyDelayMs }: { children: ReactNode; legacyDelayMs?: number }) {
  const [providers, setProviders] = useState<EIP6963ProviderDetail[]>([])
  const [discovery, setDiscovery] = useState<DiscoveryState>('searching')
  const [selected, setSelected] = useState<EIP6963ProviderDetail | null>(null)
  const [account, setAccount] = useState<string | null>(null)
  const [chainId, setChainId] = useState<number | null>(null)
  const [connecting, setConnecting] = useState(false)
  const [expectedChain, setExpectedChain] = useState<ChainParams | null>(null)
  const autoTried = useRef(false)

  useEffect(() => {
    const stop = watchProviders(
      (list) => {
        setProviders(list)
        setDiscovery(list.length ? 'found' : 'none')
      },
      { target: window as unknown as DiscoveryTarget, legacyDelayMs },
    )
    // Announcements that never come: after a while, "no wallet" is the answer (late ones still update).
    const timer = setTimeout(() => setDiscovery((d) => (d === 'searching' ? 'none' : d)), (legacyDelayMs ?? 250) + 100)
    return () => {
      stop()
      clearTimeout(timer)
    }
  }, [legacyDelayMs])

  // Reconnect silently (eth_accounts, no prompt) to the wallet chosen last time.
  useEffect(() => {
    if (autoTried.current || selected || providers.length === 0) return
    const choice = rememberedChoice()
    const detail = providers.find((p) => p.info.rdns === choice)
    if (!detail) return
    autoTried.current = true
    currentAccounts(detail.provider)
      .then(async (accounts) => {
        const address = normalise(accounts)
        if (!address) return
        setSelected(detail)
        setAccount(address)
        setChainId(await readChainId(detail.provider).catch(() => null))
      })
      .catch(() => undefined)
  }, [providers, selected])

  // Follow the chosen wallet's events.
  useEffect(() => {
    const provider = selected?.provider
    if (!provider?.on) return
    const onAccounts: ProviderListener = (accounts) => setAccount(normalise(accounts))
    const onChain: ProviderListener = (id) => setChainId(parseChainId(id))
    const onDisconnect: ProviderListener = () => {
      setAccount(null)
    }
    provider.on('accountsChanged', onAccounts)
    provider.on('chainChanged', onChain)
    provider.on('disconnect', onDisconnect)
    return () => {
      provider.removeListener?.('accountsChanged', onAccounts)
      provider.removeListener?.('chainChanged', onChain)
      provider.removeListener?.('disconnect', onDisconnect)
    }
  }, [selected])

  const connect = useCallback(
    async (detail?: EIP6963ProviderDetail) => {
      const chosen = detail ?? selected ?? providers[0]
      if (!chosen) return null
      setConnecting(true)
      try {
        const address = normalise(await requestAccounts(chosen.provider))
        setSelected(chosen)
        setAccount(address)
        setChainId(await readChainId(chosen.provider).catch(() => null))
        remember(chosen.info.rdns)
        return address
      } finally {
        setConnecting(false)
      }
    },
    [providers, selected],
  )

  const disconnect = useCallback(() => {
    remember(null)
    setSelected(null)
    setAccount(null)
    setChainId(null)
  }, [])

  const switchChain = useCallback(async () => {
    if (!selected || !expectedChain) return
    await switchToChain(selected.provider, expectedChain)
    setChainId(await readChainId(selected.provider).catch(() => null))
  }, [selected, expectedChain])

  const value = useMemo<WalletState>(
    () => ({
      discovery,
      providers,
      selected,
      provider: selected?.provider ?? null,
      account,
      chainId,
      connecting,
      connect,
      disconnect,
      expectedChain,
      setExpectedChain,
      wrongChain: !!selected && !!account && expectedChain !== null && chainId !== null && chainId !== expectedChain.chainId,
      switchChain,
    }),
    [discovery, providers, selected, account, chainId, connecting, connect, disconnect, expectedChain, switchChain],
  )
  return <WalletContext.Provider value={value}>{children}</WalletContext.Provider>
}

export function useWallet(): WalletState {
  const value = useContext(WalletContext)
  if (!value) throw new Error('useWallet must be used inside <WalletProvider>')
  return value
}
