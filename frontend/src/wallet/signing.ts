/**
 * Every signature goes through the provider's EIP-1193 `request`, so any wallet, or a test's injected
 * provider, can answer: personal_sign for text, eth_signTypedData_v4 for EIP-712 data.
 */
import { getAddress, getTypesForEIP712Domain, isHex, stringToHex, type Hex } from 'viem'
import type { BindingTypedData, TypedDataPayload } from '../api/types'
import type { EIP1193Provider } from './types'

export async function requestAccounts(provider: EIP1193Provider): Promise<string[]> {
  const accounts = await provider.request({ method: 'eth_requestAccounts' })
  return Array.isArray(accounts) ? accounts.map(String) : []
}

export async function currentAccounts(provider: EIP1193Provider): Promise<string[]> {
  const accounts = await provider.request({ method: 'eth_accounts' })
  return Array.isArray(accounts) ? accounts.map(String) : []
}

function asSignature(value: unknown): Hex {
  if (typeof value !== 'string' || !isHex(value)) throw new Error('the wallet returned something that is not a signature')
  return value
}

/** personal_sign of a UTF-8 text (sent hex-encoded, as EIP-1193 wallets and Anvil expect). */
export async function personalSign(provider: EIP1193Provider, address: string, message: string): Promise<Hex> {
  return asSignature(await provider.request({ method: 'personal_sign', params: [stringToHex(message), getAddress(address)] }))
}

/** Any EIP-712 payload the API hands out: a signed action's, or an encryption key's binding. */
export type SignablePayload = TypedDataPayload | BindingTypedData

/**
 * The payload with `types.EIP712Domain` present: some wallets hash the domain by that list and would
 * otherwise sign over an empty domain. Derived from the domain's own fields, in the EIP's order.
 */
export function withDomainType<P extends SignablePayload>(payload: P): P {
  if (payload.types.EIP712Domain) return payload
  const domain = { ...payload.domain } as Parameters<typeof getTypesForEIP712Domain>[0]['domain']
  return { ...payload, types: { EIP712Domain: getTypesForEIP712Domain({ domain }), ...payload.types } }
}

/** The JSON string eth_signTypedData_v4 takes (big integers as decimal strings). */
export function typedDataJson(payload: SignablePayload): string {
  return JSON.stringify(withDomainType(payload), (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))
}

export async function signTypedDataV4(provider: EIP1193Provider, address: string, payload: SignablePayload): Promise<Hex> {
  return asSignature(await provider.request({ method: 'eth_signTypedData_v4', params: [getAddress(address), typedDataJson(payload)] }))
}
