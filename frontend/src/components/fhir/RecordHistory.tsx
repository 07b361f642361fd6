/**
 * A structured record's versions (README "FHIR records: Amendments"): "Version n of m" and a "History"
 * disclosure listing every version newest first (date, author, state, a button to open it), from
 * GET /api/medical-records/{cid}/history through TanStack Query. Shown under an opened record, for
 * patients and doctors alike; nothing for a record that was never amended.
 */
import { useQuery } from '@tanstack/react-query'
import type { MedicalRecord, RecordVersion } from '../../api/types'
import { formatDate, shortAddress } from '../../lib/format'
import { ACCOUNT } from '../../api/queryClient'
import { useSession } from '../../session/SessionContext'

/** Where `cid` stands among `versions` (newest first): "Version n of m" counts from the oldest. */
export function versionNumber(versions: readonly Pick<RecordVersion, 'cid'>[], cid: string): { n: number; m: number } | null {
  const index = versions.findIndex((v) => v.cid === cid)
  return index < 0 ? null : { n: versions.length - index, m: versions.length }
}

function stateText(version: RecordVersion): string {
  if (version.superseded) return 'superseded'
  if (version.state === 'confirmed') return 'current, confirmed'
  if (version.state === 'anchored') return 'current, confirming'
  if (version.state === 'unanchored') return 'not on chain'
  return 'waiting for transaction'
}

export function useRecordHistory(record: Pick<MedicalRecord, 'cid' | 'replaces' | 'replaced_by'> | null) {
  const { api, session } = useSession()
  const amended = !!record && (!!record.replaces || !!record.replaced_by)
  return useQuery({
    queryKey: [ACCOUNT, session?.address.toLowerCase() ?? null, 'history', record?.cid],
    queryFn: ({ signal }) => api.records.history(record!.cid, signal),
    enabled: amended,
  })
}

export function RecordHistory({
  record,
  onOpen,
}: {
  record: Pick<MedicalRecord, 'cid' | 'replaces' | 'replaced_by'>
  /** Open one version (as the list's Open does). */
  onOpen?: (version: RecordVersion) => void
}) {
  const history = useRecordHistory(record)
  const versions = history.data?.versions ?? []
  const place = versionNumber(versions, record.cid)
  if (!place || versions.length < 2) return null
  return (
    <div className="record-history">
      <p>
        <strong>
          Version {place.n} of {place.m}
        </strong>
        {place.n < place.m && ' (superseded: a newer version replaces it)'}
      </p>
      <details>
        <summary>History ({versions.length} versions)</summary>
        <ul className="history-list">
          {versions.map((version, index) => (
            <li key={version.cid}>
              <span>
                Version {versions.length - index}, {formatDate(version.created_at)}, by{' '}
                {version.author ? (version.author_name ?? shortAddress(version.author)) : 'the patient'}: {stateText(version)}
              </span>{' '}
              {version.cid === record.cid ? (
                <span className="muted small">(shown)</span>
              ) : (
                onOpen && (
                  <button type="button" className="btn btn-small btn-secondary" onClick={() => onOpen(version)}>
                    Open version {versions.length - index}
                  </button>
                )
              )}
            </li>
          ))}
        </ul>
      </details>
    </div>
  )
}
