/**
 * Live updates: poll GET /api/notifications every few seconds while the tab is visible (TanStack
 * Query pauses interval refetches in a hidden tab and refetches on focus), refetch the lists whose
 * change token moved, keep the "seen" marker of the open list current, and put "(n)" in the title.
 * Polling rather than Server-Sent Events: see backend services/notifications.py.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect, useMemo, useRef } from 'react'
import { ACCOUNT } from '../../api/queryClient'
import type { Role } from '../../api/types'
import { useSession } from '../../session/SessionContext'
import { attentionCount, readSeen, seenRoute, staleData, tabBadges, titleWithCount, writeSeen, type Changes, type TabBadge } from './notifications'

/** How often the open tab asks what changed. */
export const POLL_MS = 3000

const storage = (): Storage | undefined => (typeof window === 'undefined' ? undefined : window.localStorage)

export function useNotifications(role: Role, activeRoute: string): Record<string, TabBadge> {
  const { api, session } = useSession()
  const queryClient = useQueryClient()
  const address = session?.address.toLowerCase() ?? null
  const since = useRef<number | undefined>(undefined)
  useEffect(() => {
    since.current = address ? readSeen(storage(), address) : undefined
  }, [address])

  const enabled = address !== null && role !== 'registrar'
  const query = useQuery({
    queryKey: [ACCOUNT, address, 'notifications'],
    queryFn: () => api.notifications.get(since.current),
    enabled,
    refetchInterval: POLL_MS,
    refetchIntervalInBackground: false,
    refetchOnWindowFocus: true,
  })
  const data = query.data

  // A moved token: refetch what it covers (mounted lists at once, the others when shown).
  const lastChanges = useRef<Changes | undefined>(undefined)
  useEffect(() => {
    if (!data) return
    const stale = staleData(lastChanges.current, data.changes)
    lastChanges.current = data.changes
    for (const what of stale) void queryClient.invalidateQueries({ queryKey: [ACCOUNT, address, what] })
  }, [data, queryClient, address])

  // The open list is seen: what is new counts from this answer's server time on.
  useEffect(() => {
    if (!data || !address || activeRoute !== seenRoute(role)) return
    since.current = data.now
    writeSeen(storage(), address, data.now)
  }, [data, address, activeRoute, role])

  const badges = useMemo(() => tabBadges(role, enabled ? data?.counts : undefined, activeRoute), [role, enabled, data, activeRoute])
  const count = attentionCount(badges)
  useEffect(() => {
    document.title = titleWithCount(document.title, count)
  }, [count])
  useEffect(() => () => void (document.title = titleWithCount(document.title, 0)), [])
  return badges
}
