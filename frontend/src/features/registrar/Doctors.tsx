/** Registrar: add doctors to, and remove them from, the on-chain doctor registry. */
import { useState, type FormEvent } from 'react'
import { isAddress } from 'viem'
import type { PersonSummary } from '../../api/types'
import { Address, Badge, ErrorNotice, Notice } from '../../components/ui'
import { useSession } from '../../session/SessionContext'

export function Doctors() {
  const { api } = useSession()
  const [address, setAddress] = useState('')
  const [name, setName] = useState('')
  const [licence, setLicence] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [done, setDone] = useState<string | null>(null)
  const [query, setQuery] = useState('')
  const [results, setResults] = useState<PersonSummary[] | null>(null)

  const act = async (fn: () => Promise<unknown>, message: string) => {
    setBusy(true)
    setError(null)
    setDone(null)
    try {
      await fn()
      setDone(message)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  const register = (event: FormEvent) => {
    event.preventDefault()
    const addr = address.trim()
    void act(() => api.admin.registerDoctor({ address: addr, name: name.trim(), licenceId: licence.trim() }), `Doctor ${addr} registered.`)
  }
  const search = (event: FormEvent) => {
    event.preventDefault()
    void act(async () => setResults(await api.directory.doctors(query.trim())), '')
  }

  return (
    <section className="card" aria-labelledby="doctors-title">
      <h2 id="doctors-title">Doctor registry</h2>
      <p>Only registered doctors can ask patients for access. HealthLedger sends the registry transaction with its own account.</p>
      <form onSubmit={register} className="stack">
        <label className="field">
          <span>Doctor's wallet address</span>
          <input type="text" value={address} onChange={(e) => setAddress(e.target.value)} placeholder="0x…" spellCheck={false} />
        </label>
        <label className="field">
          <span>Name</span>
          <input type="text" value={name} maxLength={100} onChange={(e) => setName(e.target.value)} />
          <span className="hint">Patients see this name on the doctor's access requests.</span>
        </label>
        <label className="field">
          <span>Licence number</span>
          <input type="text" value={licence} maxLength={64} onChange={(e) => setLicence(e.target.value)} spellCheck={false} />
          <span className="hint">Kept off chain, with the name; only the address goes into the on-chain registry.</span>
        </label>
        <div>
          <button type="submit" className="btn btn-primary" disabled={busy || !isAddress(address.trim()) || !name.trim() || !licence.trim()}>
            Register doctor
          </button>{' '}
          <button
            type="button"
            className="btn btn-danger"
            disabled={busy || !isAddress(address.trim())}
            onClick={() => void act(() => api.admin.unregisterDoctor(address.trim()), `Doctor ${address.trim()} removed.`)}
          >
            Unregister doctor
          </button>
        </div>
      </form>
      <form onSubmit={search} className="row">
        <label className="field grow">
          <span>Find registered doctors</span>
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} />
        </label>
        <button type="submit" className="btn btn-secondary" disabled={busy}>
          Search
        </button>
      </form>
      {results && results.length === 0 && <p className="muted">No doctor found.</p>}
      {results && results.length > 0 && (
        <ul className="result-list">
          {results.map((doctor) => (
            <li key={doctor.address} className="row between">
              <span>
                {doctor.name ?? 'Doctor'} <Address value={doctor.address} />
                {typeof doctor.licence_id === 'string' && <span className="muted small"> licence {doctor.licence_id}</span>}{' '}
                {doctor.registered === false ? <Badge kind="warn">not registered</Badge> : <Badge kind="ok">registered</Badge>}
              </span>
              <button
                type="button"
                className="btn btn-small btn-danger"
                disabled={busy}
                onClick={() => void act(() => api.admin.unregisterDoctor(doctor.address), `Doctor ${doctor.address} removed.`)}
              >
                Unregister
              </button>
            </li>
          ))}
        </ul>
      )}
      {done && <Notice kind="success">{done}</Notice>}
      <ErrorNotice error={error} title="The registry was not changed" />
    </section>
  )
}
