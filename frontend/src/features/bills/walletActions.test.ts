import { describe, expect, it, vi } from 'vitest'
import { ApiError } from '../../api/errors'
import type { Bill } from '../../api/bills'
import { hexValue, sendTransaction, syncUntilMined } from './walletActions'

const TX = '0x' + 'c'.repeat(64)

describe('wallet steps', () => {
  it('turns wei (decimal or hex) into a hex quantity', () => {
    expect(hexValue('1000000000000000000')).toBe('0xde0b6b3a7640000')
    expect(hexValue('0x10')).toBe('0x10')
    expect(hexValue('')).toBe('0x0')
  })

  it('sends from the connected account on the transaction chain, and refuses another chain', async () => {
    const calls: { method: string; params?: unknown }[] = []
    let chain = '0x7a69'
    const provider = {
      request: async ({ method, params }: { method: string; params?: unknown }) => {
        calls.push({ method, params })
        return method === 'eth_chainId' ? chain : TX
      },
    }
    const wallet = { provider, account: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' }
    const tx = { to: '0x5FbDB2315678afecb367f032d93F642f64180aa3', data: '0xabcd', value: '5', chainId: 31337 }
    await expect(sendTransaction(wallet, tx)).resolves.toBe(TX)
    expect(calls.at(-1)).toEqual({ method: 'eth_sendTransaction', params: [{ from: wallet.account, to: tx.to, data: '0xabcd', value: '0x5' }] })
    chain = '0x1'
    await expect(sendTransaction(wallet, tx)).rejects.toThrow(/network|chain/i)
  })

  it('polls sync while the transaction is pending, then gives the bill; other errors stop it', async () => {
    const mined = { billId: '0x1', status: 'paid' } as Bill
    const sync = vi
      .fn()
      .mockRejectedValueOnce(new ApiError(409, 'transaction_pending', 'not mined'))
      .mockRejectedValueOnce(new ApiError(409, 'transaction_pending', 'not mined'))
      .mockResolvedValueOnce(mined)
    const wait = vi.fn(async () => {})
    await expect(syncUntilMined({ sync }, '0x1', TX, { wait })).resolves.toBe(mined)
    expect(sync).toHaveBeenCalledTimes(3)
    expect(wait).toHaveBeenCalledTimes(2)

    const failing = vi.fn().mockRejectedValue(new ApiError(404, 'bill_not_found', 'no such bill'))
    await expect(syncUntilMined({ sync: failing }, '0x1', TX, { wait })).rejects.toThrow('no such bill')
    const forever = vi.fn().mockRejectedValue(new ApiError(409, 'transaction_pending', 'not mined'))
    await expect(syncUntilMined({ sync: forever }, '0x1', TX, { wait, timeoutMs: 0 })).rejects.toThrow(/not mined yet/)
  })
})
