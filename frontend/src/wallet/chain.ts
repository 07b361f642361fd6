/** Chain checks and switching: wallet_switchEthereumChain, then wallet_addEthereumChain if unknown. */
import { WALLET_ERRORS, walletErrorCode } from '../api/errors'
import type { ChainParams, EIP1193Provider } from './types'

/** Networks people may meet, by chain id, in the words the app shows instead of the number. */
const NETWORK_NAMES: Record<number, string> = {
  1: 'Ethereum',
  11155111: 'Sepolia test network',
  31337: 'Local test network (Anvil)',
}

/** A network's name for people ("Sepolia test network"); an unknown id stays a number, with a word. */
export function networkName(chainId: number | null | undefined): string {
  if (chainId === null || chainId === undefined) return 'Unknown network'
  return NETWORK_NAMES[chainId] ?? `Network ${chainId}`
}

/** Why a signature is refused before the wallet is asked: the wallet is on another network. */
export function wrongNetworkMessage(current: number, wanted: number): string {
  return `Your wallet is on ${networkName(current)}, but this signature is for ${networkName(wanted)}. Use "Switch network" above, then try again.`
}

export const toHexChainId = (chainId: number): `0x${string}` => `0x${chainId.toString(16)}`

export function parseChainId(value: unknown): number | null {
  if (typeof value === 'number' && Number.isInteger(value)) return value
  if (typeof value === 'bigint') return Number(value)
  if (typeof value === 'string' && value.trim()) {
    const n = value.startsWith('0x') || value.startsWith('0X') ? Number.parseInt(value, 16) : Number.parseInt(value, 10)
    return Number.isFinite(n) ? n : null
  }
  return null
}

export async function readChainId(provider: EIP1193Provider): Promise<number | null> {
  return parseChainId(await provider.request({ method: 'eth_chainId' }))
}

/** Parameters for the local development chain, given its id and RPC URL (from the backend). */
export function localChainParams(chainId: number, rpcUrl: string, chainName?: string): ChainParams {
  return {
    chainId,
    chainName: chainName ?? (chainId === 31337 ? 'HealthLedger local (Anvil)' : `HealthLedger chain ${chainId}`),
    rpcUrls: [rpcUrl],
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  }
}

function isUnknownChain(error: unknown): boolean {
  // MetaMask mobile wraps 4902 inside -32603 with data.originalError; walletErrorCode looks through it.
  const code = walletErrorCode(error)
  if (code === WALLET_ERRORS.unknownChain) return true
  const message = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? '')
  return /unrecognized chain|unknown chain|not been added|wallet_addEthereumChain/i.test(message)
}

/**
 * Ask the wallet to switch to `params.chainId`; if it does not know the chain, offer to add it
 * (which most wallets follow with a switch) and then switch again.
 */
export async function switchToChain(provider: EIP1193Provider, params: ChainParams): Promise<void> {
  const chainId = toHexChainId(params.chainId)
  try {
    await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] })
    return
  } catch (error) {
    if (!isUnknownChain(error)) throw error
  }
  await provider.request({
    method: 'wallet_addEthereumChain',
    params: [
      {
        chainId,
        chainName: params.chainName,
        rpcUrls: params.rpcUrls,
        nativeCurrency: params.nativeCurrency,
        ...(params.blockExplorerUrls?.length ? { blockExplorerUrls: params.blockExplorerUrls } : {}),
      },
    ],
  })
  const now = await readChainId(provider).catch(() => null)
  if (now !== params.chainId) await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] })
}
