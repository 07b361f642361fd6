import { useEffect, useState } from 'react'

/**
 * A blob URL for `blob` while the component shows it, revoked when it unmounts or the blob changes
 * (a decrypted record must not stay reachable in the page after its preview closes). Null until the
 * effect has run, and for no blob.
 */
export function useObjectUrl(blob: Blob | null | undefined): string | null {
  const [url, setUrl] = useState<string | null>(null)
  useEffect(() => {
    if (!blob) {
      setUrl(null)
      return
    }
    const created = URL.createObjectURL(blob)
    setUrl(created)
    return () => {
      URL.revokeObjectURL(created)
      setUrl(null)
    }
  }, [blob])
  return url
}
