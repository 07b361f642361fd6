import { useEffect, useState } from 'react'

/** Hash routing (#/records): the backend serves only index.html at `/`, so paths stay in the hash. */
export function useHashRoute(): [string, (route: string) => void] {
  const read = () => window.location.hash.replace(/^#\/?/, '').split('?')[0]
  const [route, setRoute] = useState(read)
  useEffect(() => {
    const onChange = () => setRoute(read())
    window.addEventListener('hashchange', onChange)
    return () => window.removeEventListener('hashchange', onChange)
  }, [])
  return [route, (next: string) => (window.location.hash = `#/${next}`)]
}
