/** The app's one QueryClient and the key prefix of everything a signed-in account reads. */
import { QueryClient } from '@tanstack/react-query'

/** Every signed-in query's key starts with `ACCOUNT` and the address, so an account never sees another's cache. */
export const ACCOUNT = 'account'

/**
 * Queries answer like the hand-written loader did: no automatic retry (an error shows at once, with
 * its Refresh button), and no refetch on window focus or reconnect (a list stays as it is on screen
 * until its screen mounts again, it is refreshed, or a mutation invalidates it).
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: false, refetchOnWindowFocus: false, refetchOnReconnect: false },
      mutations: { retry: false },
    },
  })
}

/** Forget every signed-in account's server data (on sign-out: medical data does not outlive the session). */
export function forgetAccounts(queryClient: QueryClient): void {
  queryClient.removeQueries({ queryKey: [ACCOUNT] })
}
