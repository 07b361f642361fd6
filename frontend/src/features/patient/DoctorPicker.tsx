/**
 * Choose a doctor: search the directory by name (or paste an address) and pick one of the results.
 * Only doctors the on-chain registry lists can be picked, since the vault refuses a grant to anyone
 * else; the address field stays editable for a doctor the directory does not know.
 */
import { useState, type FormEvent } from 'react'
import { isAddress } from 'viem'
import { useDoctorSearch } from '../../api/queries'
import { Address, Badge, ErrorNotice } from '../../components/ui'

export function DoctorPicker({ value, onChange, name = 'doctor' }: { value: string; onChange: (address: string) => void; name?: string }) {
  const [query, setQuery] = useState('')
  const [submitted, setSubmitted] = useState<string | null>(null)
  const found = useDoctorSearch(submitted)
  const results = found.error ? null : found.data

  const search = (event: FormEvent) => {
    event.preventDefault()
    const q = query.trim()
    if (!q) return
    if (isAddress(q)) onChange(q)
    if (q === submitted) void found.refetch()
    else setSubmitted(q)
  }
  return (
    <div className="stack">
      <form onSubmit={search} className="row">
        <label className="field grow">
          <span>Find a doctor (name or address)</span>
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} />
        </label>
        <button type="submit" className="btn btn-secondary" disabled={found.isFetching || !query.trim()}>
          {found.isFetching ? 'Searching…' : 'Search doctors'}
        </button>
      </form>
      <ErrorNotice error={found.error} title="Search failed" />
      {results && results.length === 0 && <p className="muted">No doctor found.</p>}
      {results && results.length > 0 && (
        <ul className="result-list">
          {results.map((doctor) => (
            <li key={doctor.address}>
              <label className="check">
                <input
                  type="radio"
                  name={name}
                  disabled={!doctor.registered}
                  checked={value.toLowerCase() === doctor.address.toLowerCase()}
                  onChange={() => onChange(doctor.address)}
                />
                {doctor.name ?? 'Doctor'} <Address value={doctor.address} />{' '}
                {doctor.registered ? <Badge kind="ok">registered</Badge> : <Badge kind="warn">not registered</Badge>}
              </label>
            </li>
          ))}
        </ul>
      )}
      <label className="field">
        <span>Doctor's address</span>
        <input type="text" value={value} onChange={(e) => onChange(e.target.value.trim())} placeholder="0x…" spellCheck={false} />
      </label>
    </div>
  )
}
