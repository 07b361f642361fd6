/**
 * Registrar: add doctors to, and remove them from, the on-chain doctor registry. Every doctor in the
 * directory is listed from the start (by name, registered or not); the search box narrows the list.
 * Removing asks first (ConfirmDialog), saying what the doctor loses: every grant they hold stops
 * counting at once.
 */
import { useMutation } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { isAddress } from 'viem'
import { useDoctorList, useInvalidate } from '../../api/queries'
import { useConfirm } from '../../components/ConfirmDialog'
import { ChainProgress, StageButton, TxLink } from '../../components/progress/ChainProgress'
import { buttonLabel } from '../../components/progress/chainStage'
import { useChainAction } from '../../components/progress/useChainAction'
import { Address, Badge, ErrorNotice, Notice } from '../../components/ui'
import { useSession } from '../../session/SessionContext'

export function Doctors() {
  const { api } = useSession()
  const invalidate = useInvalidate()
  const [address, setAddress] = useState('')
  const [name, setName] = useState('')
  const [licence, setLicence] = useState('')
  const [query, setQuery] = useState('')
  const [submitted, setSubmitted] = useState('')
  const found = useDoctorList(submitted)
  const results = found.data?.results
  const total = found.data?.total ?? 0

  // A registry change; the search results refetch after it (a registered or removed doctor shows at once).
  // The registrar signs nothing: HealthLedger sends the registry transaction, so it starts at "Sending".
  const chain = useChainAction()
  const change = useMutation({
    mutationFn: async ({ run, message, key }: { run: () => Promise<unknown>; message: string; key: string }) => {
      await chain.run(run, { key, signs: false })
      return message
    },
    onSuccess: () => invalidate('doctors'),
  })
  const act = (run: () => Promise<unknown>, message: string, key = 'register') => change.mutate({ run, message, key })
  const busy = change.isPending
  const done = change.isSuccess ? change.data : null
  const { confirm, dialog } = useConfirm()
  /** Ask, then remove `addr` from the registry (`name` when the directory knows it). */
  const unregister = (addr: string, name: string | null, key: string) =>
    confirm(
      {
        title: `Unregister ${name ?? addr}?`,
        body: (
          <p>
            {name ?? 'This doctor'} (<code>{addr}</code>) will be removed from the on-chain doctor registry. At once they can no longer ask
            patients for access, and every record patients shared with them, and every permission to add records, stops working. Registering
            them again does not bring those grants back: patients must approve again.
          </p>
        ),
        confirmLabel: 'Unregister',
      },
      () => act(() => api.admin.unregisterDoctor(addr), `Doctor ${addr} removed.`, key),
    )

  const register = (event: FormEvent) => {
    event.preventDefault()
    const addr = address.trim()
    act(() => api.admin.registerDoctor({ address: addr, name: name.trim(), licenceId: licence.trim() }), `Doctor ${addr} registered.`)
  }
  const search = (event: FormEvent) => {
    event.preventDefault()
    const q = query.trim()
    if (q === submitted) void found.refetch()
    else setSubmitted(q)
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
          <StageButton type="submit" signs={false} stage={chain.stageOf('register')} disabled={busy || !isAddress(address.trim()) || !name.trim() || !licence.trim()}>
            Register doctor
          </StageButton>{' '}
          <button
            type="button"
            className="btn btn-danger"
            disabled={busy || !isAddress(address.trim())}
            onClick={() => unregister(address.trim(), null, 'unregister')}
          >
            {buttonLabel(chain.stageOf('unregister')) ?? 'Unregister doctor'}
          </button>
        </div>
      </form>
      <h3 id="doctor-list-title">
        {submitted ? `Doctors matching “${submitted}”` : 'All doctors'} {found.data && <span className="muted small">({total})</span>}
      </h3>
      <form onSubmit={search} className="row">
        <label className="field grow">
          <span>Find registered doctors by name or address</span>
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} />
        </label>
        <button type="submit" className="btn btn-secondary" disabled={busy || found.isFetching}>
          Search
        </button>
        {submitted && (
          <button
            type="button"
            className="btn btn-secondary"
            onClick={() => {
              setQuery('')
              setSubmitted('')
            }}
          >
            Show all
          </button>
        )}
      </form>
      {found.isPending && <p className="muted">Loading doctors…</p>}
      {results && results.length === 0 && <p className="muted">{submitted ? 'No doctor found.' : 'No doctor registered yet.'}</p>}
      {results && results.length < total && (
        <p className="muted small">
          Showing the first {results.length} of {total}, by name: search to narrow the list.
        </p>
      )}
      {results && results.length > 0 && (
        <ul className="result-list" aria-labelledby="doctor-list-title">
          {results.map((doctor) => (
            <li key={doctor.address} className="row between">
              <span>
                {doctor.name ?? 'Doctor'} <Address value={doctor.address} />
                {doctor.licence_id && <span className="muted small"> licence {doctor.licence_id}</span>}{' '}
                {doctor.registered === false ? <Badge kind="warn">not registered</Badge> : <Badge kind="ok">registered</Badge>}
              </span>
              <button
                type="button"
                className="btn btn-small btn-danger"
                disabled={busy}
                onClick={() => unregister(doctor.address, doctor.name ?? null, `unregister:${doctor.address}`)}
              >
                Unregister
              </button>
            </li>
          ))}
        </ul>
      )}
      <ChainProgress state={chain.state} />
      {done && (
        <Notice kind="success">
          {done} <TxLink hash={chain.state.txHash} />
        </Notice>
      )}
      <ErrorNotice error={found.error} title="Search failed" />
      <ErrorNotice error={change.error} title="The registry was not changed" />
      {dialog}
    </section>
  )
}
