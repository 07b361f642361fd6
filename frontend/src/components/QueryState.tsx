/**
 * How every screen shows server data: a card with its title and Refresh button, then "loading", "not
 * available on this server", the error, or the empty text, and the content once there is some. One
 * component so the eleven list screens read (and are announced) the same way.
 */
import type { ReactNode } from 'react'
import { ApiError } from '../api/errors'
import { ErrorNotice, Notice } from './ui'

/** The part of a TanStack Query result these components read. */
export interface QueryView {
  data: unknown
  error: unknown
  isPending: boolean
  refetch: () => unknown
}

/** What a list shows when its endpoint is missing, failed, or empty. "Loading" only before the first answer. */
export function QueryState({ query, empty, emptyText, what }: { query: QueryView; empty: boolean; emptyText: string; what: string }) {
  if (query.isPending && query.data === undefined && !query.error) return <p className="muted" aria-live="polite">Loading {what}…</p>
  if (query.error instanceof ApiError && query.error.isNotAvailable) {
    return (
      <Notice kind="info" title={`${what[0].toUpperCase()}${what.slice(1)} are not available yet`}>
        This server does not offer this feature yet. Nothing is wrong with your account.
      </Notice>
    )
  }
  if (query.error) return <ErrorNotice error={query.error} title={`Could not load ${what}`} />
  if (empty && emptyText) return <p className="muted">{emptyText}</p>
  return null
}

/** A screen's title with its Refresh button (and any other buttons): every list screen reloads the same way. */
export function RefreshHeader({ id, children, onRefresh, actions }: { id: string; children: ReactNode; onRefresh: () => unknown; actions?: ReactNode }) {
  const refresh = (
    <button type="button" className="btn btn-secondary" onClick={() => void onRefresh()}>
      Refresh
    </button>
  )
  return (
    <div className="row between">
      <h2 id={id}>{children}</h2>
      {actions ? (
        <div className="row">
          {refresh}
          {actions}
        </div>
      ) : (
        refresh
      )}
    </div>
  )
}

/**
 * A list screen: the card, its header, what comes before the list (`intro`), the query's state, the
 * list itself (`children`) once it has items, and what follows it (`footer`).
 */
export function QueryCard({
  id,
  title,
  query,
  items,
  emptyText,
  what,
  actions,
  intro,
  footer,
  children,
}: {
  id: string
  title: ReactNode
  query: QueryView
  items: readonly unknown[]
  emptyText: string
  what: string
  actions?: ReactNode
  intro?: ReactNode
  footer?: ReactNode
  children?: ReactNode
}) {
  return (
    <section className="card" aria-labelledby={id}>
      <RefreshHeader id={id} onRefresh={query.refetch} actions={actions}>
        {title}
      </RefreshHeader>
      {intro}
      <QueryState query={query} empty={items.length === 0} emptyText={emptyText} what={what} />
      {items.length > 0 && children}
      {footer}
    </section>
  )
}
