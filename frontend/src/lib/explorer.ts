/**
 * Links to a block explorer (BLOCK_EXPLORER_URL, published by GET /api/system/config). Optional: on
 * a chain without one (the local Anvil) transactions show as their hash only.
 */

/** The explorer page of a transaction, or null when no (http/https) explorer is configured. */
export function txUrl(explorer: string | null | undefined, txHash: string | null | undefined): string | null {
  if (!explorer || !txHash || !/^0x[0-9a-fA-F]{64}$/.test(txHash)) return null
  let base: URL
  try {
    base = new URL(explorer)
  } catch {
    return null
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') return null // never a javascript: link
  return `${base.href.replace(/\/+$/, '')}/tx/${txHash}`
}
