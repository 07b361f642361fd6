import { createElement } from 'react'
import { renderToStaticMarkup } from 'react-dom/server'
import { describe, expect, it } from 'vitest'
import { ACTIONS_HEADER, DataTable, type Column } from './DataTable'

interface Row {
  id: number
  name: string
}

const columns: (Column<Row> | false)[] = [
  { header: 'Name', cell: (row) => row.name },
  { header: createElement('abbr', { title: 'Number' }, '#'), label: 'Number', cell: (row) => row.id },
  false,
  { header: ACTIONS_HEADER, className: 'actions', cell: () => createElement('button', { type: 'button' }, 'Open') },
]

const html = renderToStaticMarkup(createElement(DataTable<Row>, { columns, rows: [{ id: 7, name: 'Blood test' }], rowKey: (row: Row) => row.id }))

describe('DataTable', () => {
  it('labels each cell for the phone layout: the text header, or the column label when the header is markup', () => {
    expect(html).toContain('data-label="Name"')
    expect(html).toContain('data-label="Number"')
  })

  it('gives the actions column no label (its buttons say what they do)', () => {
    expect(html).toMatch(/<td role="cell" class="actions"><span class="cell-value"><button/)
  })

  it('keeps table semantics explicit, since a table shown as cards loses its implicit roles', () => {
    expect(html).toMatch(/^<div class="table-wrap"><table class="data-table" role="table"><thead role="rowgroup"><tr role="row"><th scope="col" role="columnheader">Name<\/th>/)
    expect(html.match(/role="cell"/g)).toHaveLength(3) // the column given as `false` is left out
  })
})
