/**
 * Doctors: find a patient by the name they published (or their exact wallet address) and ask for access, with a reason, by signing a RequestAccess message; the
 * request can also ask to add records (`wantsWrite`, stored with the reason; the patient may grant
 * write access while answering).
 */
import { useMutation } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { isAddress } from 'viem'
import { useInvalidate, usePatientNames, usePatientSearch } from '../../api/queries'
import { Address, ErrorNotice, Notice, SignButton } from '../../components/ui'
import { shortAddress } from '../../lib/format'
import { useSession } from '../../session/SessionContext'
import { PatientName } from './PatientName'

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
    if (!searchable(q)) return
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
  // The chosen patient's published name (a pasted address is looked up too).
  const names = usePatientNames(isAddress(patient) ? [patient] : [])
  const chosenName = isAddress(patient) ? (names.get(patient.toLowerCase()) ?? null) : null
  const typed = query.trim()
  return (
    <section className="card" aria-labelledby="find-title">
      <h2 id="find-title">Find a patient</h2>
      <form onSubmit={search} className="row">
        <label className="field grow">
          <span>Patient's name or wallet address</span>
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} />
          <span className="hint">
            Patients who chose to be found appear by name; anyone else only by their exact address.
          </span>
        </label>
        <button type="submit" className="btn btn-secondary" disabled={searching || !searchable(typed)}>
          {searching ? 'Searching…' : 'Search'}
        </button>
      </form>
      {searchError !== null && isAddress(query.trim()) ? (
        <p className="muted">Search is not available; the address you typed is used as is.</p>
      ) : (
        <ErrorNotice error={searchError} title="Search failed" />
      )}
      {results && results.length === 0 && (
        <p className="muted">No patient found{submitted && !isAddress(submitted) ? ` with a published name containing “${submitted}”` : ''}.</p>
      )}
      {results && results.length > 0 && (
        <ul className="result-list" aria-label="Patients found">
          {results.map((person) => (
            <li key={person.address}>
              <label className="check">
                <input type="radio" name="patient" checked={patient.toLowerCase() === person.address.toLowerCase()} onChange={() => setPatient(person.address)} />
                <span>{person.display_name ?? 'Patient without a published name'}</span>
              </label>{' '}
              <Address value={person.address} />
            </li>
          ))}
        </ul>
      )}

      <h3>Request access</h3>
      <label className="field">
        <span>Patient's address</span>
        <input type="text" value={patient} onChange={(e) => setPatient(e.target.value.trim())} placeholder="0x…" spellCheck={false} />
      </label>
      {isAddress(patient) && (
        <p className="small">
          Asking <PatientName address={patient} names={names} />
        </p>
      )}
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
        Sign access request to {isAddress(patient) ? (chosenName ? `${chosenName} (${shortAddress(patient)})` : shortAddress(patient)) : 'this patient'}
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

/** A search the API answers: an exact address, or at least 2 characters of a name. */
function searchable(q: string): boolean {
  return isAddress(q) || q.length >= 2
}
