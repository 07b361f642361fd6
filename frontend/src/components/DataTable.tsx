/**
 * One table shape for every list: column headers with scope, one row per item, a stable key.
 *
 * Below 600 px the table turns into cards (see DataTable.css): each row is a card and each cell a
 * "label: value" line, the label taken from `data-label` (the column's `label`, or its header when that
 * is plain text). Tables squeezed to a phone's width either scroll sideways (hiding the buttons at the
 * end) or crush every column; cards keep each item readable and its buttons on screen. The rows carry
 * explicit ARIA table roles because browsers drop a table's semantics once CSS changes its `display`.
 * Each cell's content sits in an inline `.cell-value` span (a block only in the card layout), so a
 * row's text reads as before on wide screens (cells separated by tabs, no line breaks added).
 */
import type { ReactNode } from 'react'
import './DataTable.css'

export interface Column<T> {
  header: ReactNode
  cell: (row: T) => ReactNode
  className?: string
  /** The cell's label in the card layout on phones; defaults to `header` when that is a string. */
  label?: string
}

/** The header of a column of buttons: read by screen readers, not shown (nor labelled on phones). */
export const ACTIONS_HEADER = <span className="visually-hidden">Actions</span>

function cardLabel<T>(column: Column<T>): string | undefined {
  if (column.label !== undefined) return column.label || undefined
  return typeof column.header === 'string' ? column.header : undefined
}

export function DataTable<T>({
  columns,
  rows,
  rowKey,
  wrap = true,
}: {
  columns: readonly (Column<T> | false)[]
  rows: readonly T[]
  rowKey: (row: T, index: number) => string | number
  /** On wide screens, scroll sideways when the table is wider than its card (a `.table-wrap` around it). */
  wrap?: boolean
}) {
  const shown = columns.filter((column): column is Column<T> => column !== false)
  const table = (
    <table className="data-table" role="table">
      <thead role="rowgroup">
        <tr role="row">
          {shown.map((column, index) => (
            <th key={index} scope="col" role="columnheader">
              {column.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody role="rowgroup">
        {rows.map((row, index) => (
          <tr key={rowKey(row, index)} role="row">
            {shown.map((column, col) => (
              <td key={col} role="cell" className={column.className} data-label={cardLabel(column)}>
                <span className="cell-value">{column.cell(row)}</span>
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  )
  return wrap ? <div className="table-wrap">{table}</div> : table
}
