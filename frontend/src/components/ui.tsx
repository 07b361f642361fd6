import { useEffect, useState, type ReactNode } from 'react'
import { readableError } from '../api/errors'
import { formatRemaining, shortAddress, toDate } from '../lib/format'

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
      {explain && <p className="sign-explain">{explain}</p>}
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

export function Address({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="muted">—</span>
  return (
    <code className="address" title={value}>
      {shortAddress(value)}
    </code>
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
