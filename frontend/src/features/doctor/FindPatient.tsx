/**
 * Doctors: find a patient and ask for access, with a reason, by signing a RequestAccess message; the
 * request can also ask to add records (`wantsWrite`, stored with the reason; the patient may grant
 * write access while answering).
 */
import { useMutation } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { isAddress } from 'viem'
import { useInvalidate, usePatientSearch } from '../../api/queries'
import { Address, ErrorNotice, Notice, SignButton } from '../../components/ui'
import { useSession } from '../../session/SessionContext'

export function FindPatient() {
  const { api, signAction } = useSession()
  const invalidate = useInvalidate()
  const [query, setQuery] = useState('')
  const [submitted, setSubmitted] = useState<string | null>(null)
  const found = usePatientSearch(submitted)
  const [patient, setPatient] = useState('')
  const [reason, setReason] = useState('')
  const [wantsWrite, setWantsWrite] = useState(false)

  const search = (event: FormEvent) => {
    event.preventDefault()
    const q = query.trim()
    if (!q) return
    if (isAddress(q)) setPatient(q)
    if (q === submitted) void found.refetch()
    else setSubmitted(q)
  }
  const searching = found.isFetching
  const searchError = found.error
  const results = found.error ? null : found.data

  const request = useMutation({
    mutationFn: async () => {
      const signed = await signAction('requestAccess', { patientAddress: patient })
      await api.access.request({
        patientAddress: patient,
        requestReason: reason.trim(),
        wantsWrite,
        signature: signed.signature,
        nonce: signed.nonce,
        deadline: signed.deadline,
      })
      return wantsWrite
    },
    onSuccess: () => {
      setReason('')
      setWantsWrite(false)
      return invalidate('doctorRequests')
    },
  })

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
                {person.display_name ?? 'Patient'} <Address value={person.address} />
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
      <label className="check">
        <input type="checkbox" checked={wantsWrite} onChange={(e) => setWantsWrite(e.target.checked)} />
        Also ask to add records (prescriptions, bills, reports) to this patient's file
      </label>
      <SignButton
        onClick={() => request.mutate()}
        disabled={!valid}
        busy={request.isPending}
        explain={
          'Signs a “RequestAccess” message (EIP-712) naming this patient. The patient decides which records you may read and for how long; you pay nothing.' +
          (wantsWrite ? ' The patient also sees that you ask to add records, and may allow it for the same time.' : '')
        }
      >
        Sign access request to {patient && isAddress(patient) ? `${patient.slice(0, 6)}…${patient.slice(-4)}` : 'this patient'}
      </SignButton>
      {request.isSuccess && (
        <Notice kind="success">
          Request sent. You will see the records under “Authorized records” once the patient approves
          {request.data ? ', and the patient under “Add a record” if they also let you add records.' : '.'}
        </Notice>
      )}
      <ErrorNotice error={request.error} title="The request was not sent" />
    </section>
  )
}
