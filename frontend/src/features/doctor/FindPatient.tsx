/** Doctors: find a patient and ask for access, with a reason, by signing a RequestAccess message. */
import { useState, type FormEvent } from 'react'
import { isAddress } from 'viem'
import type { PersonSummary } from '../../api/types'
import { Address, ErrorNotice, Notice, SignButton } from '../../components/ui'
import { useSession } from '../../session/SessionContext'

export function FindPatient({ onSent }: { onSent?: () => void }) {
  const { api, signAction } = useSession()
  const [query, setQuery] = useState('')
  const [results, setResults] = useState<PersonSummary[] | null>(null)
  const [searchError, setSearchError] = useState<unknown>(null)
  const [searching, setSearching] = useState(false)
  const [patient, setPatient] = useState('')
  const [reason, setReason] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [sent, setSent] = useState<string | null>(null)

  const search = async (event: FormEvent) => {
    event.preventDefault()
    const q = query.trim()
    if (!q) return
    if (isAddress(q)) setPatient(q)
    setSearching(true)
    setSearchError(null)
    try {
      setResults(await api.directory.patients(q))
    } catch (err) {
      setResults(null)
      setSearchError(err)
    } finally {
      setSearching(false)
    }
  }

  const request = async () => {
    setBusy(true)
    setError(null)
    setSent(null)
    try {
      const signed = await signAction('requestAccess', { patientAddress: patient })
      await api.access.request({ patientAddress: patient, requestReason: reason.trim(), signature: signed.signature, nonce: signed.nonce, deadline: signed.deadline })
      setSent(patient)
      setReason('')
      onSent?.()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  const valid = isAddress(patient) && reason.trim().length >= 3
  return (
    <section className="card" aria-labelledby="find-title">
      <h2 id="find-title">Find a patient</h2>
      <form onSubmit={search} className="row">
        <label className="field grow">
          <span>Name, email or wallet address</span>
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} />
        </label>
        <button type="submit" className="btn btn-secondary" disabled={searching || !query.trim()}>
          {searching ? 'Searching…' : 'Search'}
        </button>
      </form>
      {searchError !== null && isAddress(query.trim()) ? (
        <p className="muted">Search is not available; the address you typed is used as is.</p>
      ) : (
        <ErrorNotice error={searchError} title="Search failed" />
      )}
      {results && results.length === 0 && <p className="muted">No patient found.</p>}
      {results && results.length > 0 && (
        <ul className="result-list">
          {results.map((person) => (
            <li key={person.address}>
              <label className="check">
                <input type="radio" name="patient" checked={patient === person.address} onChange={() => setPatient(person.address)} />
                {person.name ?? 'Patient'} <Address value={person.address} />
              </label>
            </li>
          ))}
        </ul>
      )}

      <h3>Request access</h3>
      <label className="field">
        <span>Patient's address</span>
        <input type="text" value={patient} onChange={(e) => setPatient(e.target.value.trim())} placeholder="0x…" spellCheck={false} />
      </label>
      <label className="field">
        <span>Reason (the patient reads this)</span>
        <textarea value={reason} onChange={(e) => setReason(e.target.value)} rows={3} maxLength={500} />
      </label>
      <SignButton
        onClick={() => void request()}
        disabled={!valid}
        busy={busy}
        explain="Signs a “RequestAccess” message (EIP-712) naming this patient. The patient decides which records you may read and for how long; you pay nothing."
      >
        Sign access request to {patient && isAddress(patient) ? `${patient.slice(0, 6)}…${patient.slice(-4)}` : 'this patient'}
      </SignButton>
      {sent && <Notice kind="success">Request sent. You will see the records under “Authorized records” once the patient approves.</Notice>}
      <ErrorNotice error={error} title="The request was not sent" />
    </section>
  )
}
