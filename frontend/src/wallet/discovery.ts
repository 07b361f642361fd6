/**
 * Wallet discovery: EIP-6963 announcements first, `window.ethereum` as the fallback for wallets that
 * predate it. Announcements can arrive at any time (extensions load late), so discovery is a
 * subscription; `discoverProviders` is the one-shot form.
 */
import type { EIP1193Provider, EIP6963ProviderDetail } from './types'

export const LEGACY_UUID = 'legacy-window-ethereum'

/** The minimal window discovery needs; tests pass a plain EventTarget. */
export interface DiscoveryTarget {
  addEventListener(type: string, listener: (event: Event) => void): void
  removeEventListener(type: string, listener: (event: Event) => void): void
  dispatchEvent(event: Event): boolean
  ethereum?: EIP1193Provider & { isMetaMask?: boolean }
}

function isDetail(value: unknown): value is EIP6963ProviderDetail {
  const detail = value as EIP6963ProviderDetail | null
  return (
    !!detail &&
    typeof detail === 'object' &&
    !!detail.info &&
    typeof detail.info.uuid === 'string' &&
    typeof detail.info.name === 'string' &&
    !!detail.provider &&
    typeof detail.provider.request === 'function'
  )
}

export function legacyDetail(provider: EIP1193Provider & { isMetaMask?: boolean }): EIP6963ProviderDetail {
  return {
    info: {
      uuid: LEGACY_UUID,
      name: provider.isMetaMask ? 'MetaMask (legacy)' : 'Browser wallet',
      icon: '',
      rdns: 'window.ethereum',
    },
    provider,
  }
}

export interface WatchOptions {
  target?: DiscoveryTarget
  /** How long to wait for EIP-6963 announcements before offering window.ethereum (ms). */
  legacyDelayMs?: number
}

/**
 * Call `onChange` with the current list whenever it changes. Returns an unsubscribe function.
 * The legacy entry is shown only while no announced provider wraps the same object.
 */
export function watchProviders(onChange: (providers: EIP6963ProviderDetail[]) => void, options: WatchOptions = {}): () => void {
  const target = options.target ?? (globalThis as unknown as DiscoveryTarget)
  const announced = new Map<string, EIP6963ProviderDetail>()
  let legacyAllowed = false
  let stopped = false

  const publish = () => {
    if (stopped) return
    const list = [...announced.values()]
    const legacy = target.ethereum
    if (legacyAllowed && legacy && typeof legacy.request === 'function' && !list.some((d) => d.provider === legacy)) {
      list.push(legacyDetail(legacy))
    }
    onChange(list)
  }

  const onAnnounce = (event: Event) => {
    const detail = (event as CustomEvent<unknown>).detail
    if (!isDetail(detail)) return
    const existing = announced.get(detail.info.uuid)
    if (existing && existing.provider === detail.provider) return
    announced.set(detail.info.uuid, Object.freeze({ info: { ...detail.info }, provider: detail.provider }))
    publish()
  }
  const onLegacyInit = () => publish()

  target.addEventListener('eip6963:announceProvider', onAnnounce)
  target.addEventListener('ethereum#initialized', onLegacyInit)
  target.dispatchEvent(new Event('eip6963:requestProvider'))

  const timer = setTimeout(() => {
    legacyAllowed = true
    publish()
  }, options.legacyDelayMs ?? 250)

  return () => {
    stopped = true
    clearTimeout(timer)
    target.removeEventListener('eip6963:announceProvider', onAnnounce)
    target.removeEventListener('ethereum#initialized', onLegacyInit)
  }
}

/** The providers found within `timeoutMs`. */
export function discoverProviders(timeoutMs = 300, target?: DiscoveryTarget): Promise<EIP6963ProviderDetail[]> {
  return new Promise((resolve) => {
    let latest: EIP6963ProviderDetail[] = []
    const stop = watchProviders((list) => (latest = list), { target, legacyDelayMs: Math.max(0, timeoutMs - 50) })
    setTimeout(() => {
      stop()
      resolve(latest)
    }, timeoutMs)
  })
}
