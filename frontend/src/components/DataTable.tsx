/** One table shape for every list: column headers with scope, one row per item, a stable key. */
import type { ReactNode } from 'react'

export interface Column<T> {
  header: ReactNode
  cell: (row: T) => ReactNode
  className?: string
}

/** The header of a column of buttons: read by screen readers, not shown. */
export const ACTIONS_HEADER = <span className="visually-hidden">Actions</span>

export function DataTable<T>({
  columns,
  rows,
  rowKey,
  wrap = true,
}: {
  columns: readonly (Column<T> | false)[]
  rows: readonly T[]
  rowKey: (row: T, index: number) => string | number
  /** Scroll sideways on narrow screens (a `.table-wrap` around the table). */
  wrap?: boolean
}) {
  const shown = columns.filter((column): column is Column<T> => column !== false)
  const table = (
    <table>
      <thead>
        <tr>
          {shown.map((column, index) => (
            <th key={index} scope="col">
              {column.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, index) => (
          <tr key={rowKey(row, index)}>
            {shown.map((column, col) => (
              <td key={col} className={column.className}>
                {column.cell(row)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  )
  return wrap ? <div className="table-wrap">{table}</div> : table
}
