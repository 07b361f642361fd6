import { useEffect, useState, type ReactNode } from 'react'
import { readableError } from '../api/errors'
import { formatRemaining, shortAddress, toDate } from '../lib/format'
import { signingDetails, splitSigningExplain } from '../lib/plainSigning'
import './address.css'

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
 * An address, short (0x1234…abcd), with the full one on hover and a button that copies it: people
 * read names, but grants and requests are made to addresses, so the full one stays one click away.
 */
export function Address({ value }: { value: string | null | undefined }) {
  const [copied, setCopied] = useState(false)
  useEffect(() => {
    if (!copied) return
    const timer = setTimeout(() => setCopied(false), 1500)
    return () => clearTimeout(timer)
  }, [copied])
  if (!value) return <span className="muted">—</span>
  const copy = () => {
    navigator.clipboard?.writeText(value).then(
      () => setCopied(true),
      () => undefined,
    )
  }
  return (
    <span className="address-wrap">
      <code className="address" title={value}>
        {shortAddress(value)}
      </code>
      <button type="button" className="address-copy" onClick={copy} title={copied ? 'Copied' : `Copy ${value}`} aria-label={copied ? 'Address copied' : `Copy full address ${value}`}>
        <svg aria-hidden="true" viewBox="0 0 16 16" width="12" height="12">
          {copied ? (
            <path d="M3 8.5l3 3 7-7" fill="none" stroke="currentColor" strokeWidth="2" />
          ) : (
            <path d="M5 2h7a1 1 0 0 1 1 1v8h-1.5V3.5H5zM3 5h6.5a1 1 0 0 1 1 1v8H3a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1z" fill="currentColor" />
          )}
        </svg>
      </button>
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
