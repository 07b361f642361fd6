/**
 * The wallet steps of the bills screens: sign a payload the bills API handed out (EIP-712, on the
 * chain it names), send a prepared transaction (eth_sendTransaction: the wallet shows the amount),
 * and wait until the server has read the mined transaction (POST sync answers 409
 * `transaction_pending` until it has a receipt).
 */
import { toHex, type Hex } from 'viem'
import { ApiError } from '../../api/errors'
import type { Bill, BillsApi, WalletTransaction } from '../../api/bills'
import type { TypedDataPayload } from '../../api/types'
import { parseChainId, readChainId, wrongNetworkMessage } from '../../wallet/chain'
import { signTypedDataV4 } from '../../wallet/signing'
import type { EIP1193Provider } from '../../wallet/types'

export interface WalletRef {
  provider: EIP1193Provider | null
  account: string | null
}

function connected(wallet: WalletRef): { provider: EIP1193Provider; account: string } {
  if (!wallet.provider || !wallet.account) throw new Error('Connect your wallet first.')
  return { provider: wallet.provider, account: wallet.account }
}

async function requireChain(provider: EIP1193Provider, wanted: number | null) {
  const current = await readChainId(provider).catch(() => null)
  if (wanted !== null && current !== null && wanted !== current) throw new Error(wrongNetworkMessage(current, wanted))
}

/** eth_signTypedData_v4 of `payload` after checking the wallet is on the payload's chain. */
export async function signPayload(wallet: WalletRef, payload: TypedDataPayload): Promise<Hex> {
  const { provider, account } = connected(wallet)
  await requireChain(provider, parseChainId(payload.domain.chainId))
  return signTypedDataV4(provider, account, payload)
}

/** A wei amount as the hex quantity eth_sendTransaction takes (the server may send decimal or hex). */
export function hexValue(value: string | null | undefined): Hex {
  if (!value) return '0x0'
  return toHex(BigInt(value))
}

/** Send a prepared transaction from the connected account; returns its hash. */
export async function sendTransaction(wallet: WalletRef, tx: WalletTransaction): Promise<Hex> {
  const { provider, account } = connected(wallet)
  await requireChain(provider, tx.chainId)
  const hash = await provider.request({ method: 'eth_sendTransaction', params: [{ from: account, to: tx.to, data: tx.data, value: hexValue(tx.value) }] })
  if (typeof hash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(hash)) throw new Error('The wallet did not return a transaction hash.')
  return hash as Hex
}

/**
 * POST sync until the server has the transaction's receipt (409 `transaction_pending` before), every
 * `intervalMs`, for at most `timeoutMs`; then the bill as the chain has it.
 */
export async function syncUntilMined(
  bills: Pick<BillsApi, 'sync'>,
  billId: string,
  txHash: string,
  { intervalMs = 1500, timeoutMs = 180_000, wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) } = {},
): Promise<Bill> {
  const until = Date.now() + timeoutMs
  for (;;) {
    try {
      return await bills.sync(billId, txHash)
    } catch (error) {
      const pending = error instanceof ApiError && error.status === 409 && error.code === 'transaction_pending'
      if (!pending) throw error
      if (Date.now() >= until) throw new Error('The transaction was sent but is not mined yet. Refresh the list in a moment.')
      await wait(intervalMs)
    }
  }
}
