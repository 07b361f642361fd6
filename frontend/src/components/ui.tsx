import { useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react'
import { readableError } from '../api/errors'
import { formatRemaining, shortAddress, toDate } from '../lib/format'
import { signingDetails, splitSigningExplain } from '../lib/plainSigning'
import './signing.css'

type NoticeKind = 'info' | 'success' | 'warning' | 'error'

export function Notice({ kind = 'info', title, children }: { kind?: NoticeKind; title?: string; children?: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {title && <strong className="notice-title">{title}</strong>}
      {children && <div>{children}</div>}
    </div>
  )
}

export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null
  return (
    <Notice kind="error" title={title}>
      {readableError(error)}
    </Notice>
  )
}

/**
 * A button that asks the wallet for a signature. Its label says what is signed; `explain` says why, in
 * plain words, next to it.
 */
export function SignButton({
  children,
  explain,
  onClick,
  disabled,
  busy,
  variant = 'primary',
}: {
  children: ReactNode
  explain?: ReactNode
  onClick: () => void
  disabled?: boolean
  busy?: boolean
  variant?: 'primary' | 'secondary' | 'danger'
}) {
  return (
    <div className="sign-action">
      <button type="button" className={`btn btn-${variant}`} onClick={onClick} disabled={disabled || busy} aria-busy={busy || undefined}>
        <span aria-hidden="true" className="sign-icon">✍</span> {busy ? 'Waiting for your wallet…' : children}
      </button>
      {explain && <SigningExplain explain={explain} />}
    </div>
  )
}

/**
 * A signature's explanation in plain words; the EIP-712 type names a text explanation mentions go
 * behind a "Details" toggle (see lib/plainSigning.ts). Other content is shown as given.
 */
export function SigningExplain({ explain }: { explain: ReactNode }) {
  if (typeof explain !== 'string') return <p className="sign-explain">{explain}</p>
  const { plain, types } = splitSigningExplain(explain)
  return (
    <div className="sign-explain">
      <p>{plain}</p>
      {types.length > 0 && (
        <details className="small">
          <summary>Details</summary>
          {signingDetails(types)}
        </details>
      )}
    </div>
  )
}

export function Progress({ value, max, label }: { value: number; max: number; label: string }) {
  const percent = max > 0 ? Math.round((value / max) * 100) : 0
  return (
    <div className="progress">
      <label>
        <span>
          {label} {max > 0 && <span className="muted">{percent}%</span>}
        </span>
        {max > 0 ? <progress value={value} max={max} /> : <progress />}
      </label>
    </div>
  )
}

/**
 * An address, shortened (0x70de…7a3c) with the full one in its tooltip and a copy button: a 42-character
 * address would push a phone's screen sideways, and people paste addresses more than they read them.
 * Inside a label, button or link (where a nested button would steal the click) it shows no button.
 * Everything stays inline (no flex, no hidden live region): a card's or row's text reads the same
 * as before, on one line.
 */
export function Address({ value, copy = true }: { value: string | null | undefined; copy?: boolean }) {
  const ref = useRef<HTMLSpanElement>(null)
  const [nested, setNested] = useState(false)
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null)
  useLayoutEffect(() => {
    setNested(Boolean(ref.current?.parentElement?.closest('label, button, a, summary, [role="button"], [role="link"]')))
  }, [Boolean(value)])
  useEffect(() => {
    if (copied === null) return
    const timer = setTimeout(() => setCopied(null), 2000)
    return () => clearTimeout(timer)
  }, [copied])
  if (!value) return <span className="muted">—</span>
  const doCopy = () => {
    navigator.clipboard?.writeText(value).then(
      () => setCopied('yes'),
      () => setCopied('no'),
    ) ?? setCopied('no')
  }
  return (
    <span className="address-group" ref={ref}>
      <code className="address" title={value}>
        {shortAddress(value)}
      </code>
      {copy && !nested && (
        <button type="button" className="copy-btn" onClick={doCopy} title={copied === 'no' ? `Could not copy: ${value}` : `Copy ${value}`}
          aria-label={copied === 'yes' ? 'Address copied' : 'Copy full address'}>
          {copied === 'yes' ? (
            <span aria-hidden="true">✓</span>
          ) : (
            <svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14" fill="none" stroke="currentColor" strokeWidth="1.5">
              <rect x="5.5" y="5.5" width="8" height="8" rx="1.5" />
              <path d="M10.5 3.5v-1a1 1 0 0 0-1-1h-6a1 1 0 0 0-1 1v6a1 1 0 0 0 1 1h1" />
            </svg>
          )}
        </button>
      )}
    </span>
  )
}

export function Countdown({ until }: { until: string | number | null | undefined }) {
  const date = toDate(until)
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(timer)
  }, [])
  if (!date) return <span className="muted">no expiry given</span>
  const left = date.getTime() - now
  return (
    <span className={left <= 0 ? 'badge badge-bad' : left < 3600_000 ? 'badge badge-warn' : 'badge badge-ok'} title={date.toLocaleString()}>
      {left <= 0 ? 'expired' : `${formatRemaining(left)} left`}
    </span>
  )
}

export function Badge({ kind, children, title }: { kind: 'ok' | 'warn' | 'bad' | 'neutral'; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${kind}`} title={title}>
      {children}
    </span>
  )
}
