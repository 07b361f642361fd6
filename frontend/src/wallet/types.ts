// EIP-1193 providers and EIP-6963 discovery, typed loosely enough for any injected wallet.

export interface RequestArguments {
  method: string
  params?: readonly unknown[] | Record<string, unknown>
}

export type ProviderListener = (...args: unknown[]) => void

export interface EIP1193Provider {
  request(args: RequestArguments): Promise<unknown>
  on?(event: string, listener: ProviderListener): unknown
  removeListener?(event: string, listener: ProviderListener): unknown
}

export interface EIP6963ProviderInfo {
  uuid: string
  name: string
  /** A data: URI image (RFC 2397). */
  icon: string
  rdns: string
}

export interface EIP6963ProviderDetail {
  info: EIP6963ProviderInfo
  provider: EIP1193Provider
}

export interface EIP6963AnnounceProviderEvent extends CustomEvent<EIP6963ProviderDetail> {
  type: 'eip6963:announceProvider'
}

/** Parameters for `wallet_addEthereumChain` (EIP-3085), with the chain id as a number. */
export interface ChainParams {
  chainId: number
  chainName: string
  rpcUrls: string[]
  nativeCurrency: { name: string; symbol: string; decimals: number }
  blockExplorerUrls?: string[]
}

declare global {
  interface Window {
    ethereum?: EIP1193Provider & { isMetaMask?: boolean; providers?: EIP1193Provider[] }
  }
  interface WindowEventMap {
    'eip6963:announceProvider': EIP6963AnnounceProviderEvent
  }
}
