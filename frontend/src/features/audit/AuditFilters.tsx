/** The filter bar of an audit trail (who, record, kind, from, to) and its CSV download. */
import type { AuditEvent } from '../../api/types'
import { auditCsv, csvFileName, downloadText } from './csv'
import type { Viewer } from './describe'
import { NO_FILTERS, filterOptions, isFiltered, type AuditFilters, type AuditKind, type Option } from './filters'
import './audit.css'

function Choice({ label, value, any, options, onChange }: { label: string; value: string; any: string; options: Option[]; onChange: (value: string) => void }) {
  return (
    <label className="field">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{any}</option>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </label>
  )
}

export function AuditFilterBar({
  events,
  filters,
  onChange,
  viewer,
}: {
  events: readonly AuditEvent[]
  filters: AuditFilters
  onChange: (filters: AuditFilters) => void
  viewer: Viewer
}) {
  const options = filterOptions(events, viewer)
  const set = (change: Partial<AuditFilters>) => onChange({ ...filters, ...change })
  return (
    <form className="audit-filters row" role="search" aria-label="Filter the audit trail" onSubmit={(e) => e.preventDefault()}>
      <Choice label="Who" value={filters.who} any="Anyone" options={options.who} onChange={(who) => set({ who })} />
      <Choice label="Record" value={filters.record} any="Any record" options={options.records} onChange={(record) => set({ record })} />
      <Choice label="Kind" value={filters.kind} any="Anything" options={options.kinds} onChange={(kind) => set({ kind: kind as AuditKind | '' })} />
      <label className="field">
        <span>From</span>
        <input type="date" value={filters.from} max={filters.to || undefined} onChange={(e) => set({ from: e.target.value })} />
      </label>
      <label className="field">
        <span>To</span>
        <input type="date" value={filters.to} min={filters.from || undefined} onChange={(e) => set({ to: e.target.value })} />
      </label>
      {isFiltered(filters) && (
        <button type="button" className="btn btn-secondary audit-clear" onClick={() => onChange(NO_FILTERS)}>
          Clear filters
        </button>
      )}
    </form>
  )
}

/** Downloads exactly the rows shown (after filtering) as CSV; made in the browser. */
export function CsvButton({ rows, viewer }: { rows: readonly AuditEvent[]; viewer: Viewer }) {
  return (
    <button type="button" className="btn btn-secondary btn-small" disabled={rows.length === 0}
      onClick={() => downloadText(auditCsv(rows, viewer), csvFileName(viewer))}>
      Download CSV ({rows.length})
    </button>
  )
}
