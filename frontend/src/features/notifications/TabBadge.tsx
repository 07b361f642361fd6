import type { TabBadge as Badge } from './notifications'
import './notifications.css'

/**
 * The count on a tab. The number is hidden from the accessible name (the tab stays "Requests"); the
 * words go in the link's description instead: pass `descriptionId(route)` as its aria-describedby.
 */
export function TabBadge({ route, badge }: { route: string; badge: Badge | undefined }) {
  if (!badge) return null
  return (
    <>
      <span className="tab-badge" aria-hidden="true" title={badge.text} data-testid={`tab-badge-${route}`}>
        {badge.count}
      </span>
      <span id={descriptionId(route)} hidden>
        {badge.text}
      </span>
    </>
  )
}

export const descriptionId = (route: string) => `tab-badge-text-${route}`
