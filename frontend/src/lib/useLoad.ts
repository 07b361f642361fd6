import { useCallback, useEffect, useRef, useState } from 'react'
import { ApiError } from '../api/errors'

export interface Loaded<T> {
  data: T | undefined
  error: unknown
  loading: boolean
  /** The endpoint does not exist on this server yet (404 not_found). */
  notAvailable: boolean
  reload(): Promise<void>
}

/** Load data on mount (and on `reload`), tolerating endpoints that are not deployed yet. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], enabled = true): Loaded<T> {
  const [data, setData] = useState<T>()
  const [error, setError] = useState<unknown>(null)
  const [loading, setLoading] = useState(enabled)
  const generation = useRef(0)
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const run = useCallback(load, deps)

  const reload = useCallback(async () => {
    const mine = ++generation.current
    setLoading(true)
    try {
      const value = await run()
      if (mine === generation.current) {
        setData(value)
        setError(null)
      }
    } catch (err) {
      if (mine === generation.current) setError(err)
    } finally {
      if (mine === generation.current) setLoading(false)
    }
  }, [run])

  useEffect(() => {
    if (enabled) void reload()
  }, [reload, enabled])

  return { data, error, loading, notAvailable: error instanceof ApiError && error.isNotAvailable, reload }
}
