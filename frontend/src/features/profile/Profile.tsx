/**
 * Your profile: the name people see instead of your address. Patients choose a display name and
 * whether doctors can find them by it (unpublished, doctors find them by exact address only and
 * see no name); doctors see the name and licence the registrar recorded (a doctor's name is vouched
 * for by the registrar, so they cannot change it here).
 */
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useEffect, useState, type FormEvent } from 'react'
import { useInvalidate, useProfile } from '../../api/queries'
import type { DoctorOwnProfile, PatientOwnProfile } from '../../api/types'
import { QueryState } from '../../components/QueryState'
import { Address, Badge, ErrorNotice, Notice } from '../../components/ui'
import { formatDate } from '../../lib/format'
import { useSession } from '../../session/SessionContext'
import { MAX_NAME_LENGTH, normalName, profileProblem } from './profileForm'
import './profile.css'

function PatientProfileForm({ profile }: { profile: PatientOwnProfile }) {
  const { api } = useSession()
  const invalidate = useInvalidate()
  const queryClient = useQueryClient()
  const [name, setName] = useState(profile.display_name ?? '')
  const [published, setPublished] = useState(profile.published)
  // A fresh profile from the server (another tab, a refetch) resets the form.
  useEffect(() => {
    setName(profile.display_name ?? '')
    setPublished(profile.published)
  }, [profile.display_name, profile.published])

  const save = useMutation({
    mutationFn: () => api.profile.put({ displayName: normalName(name), published }),
    onSuccess: async () => {
      await invalidate('profile')
      // Names shown elsewhere (doctors' look-ups on this browser) may have changed.
      await queryClient.invalidateQueries({ predicate: (query) => query.queryKey.includes('patients') })
    },
  })
  const problem = profileProblem(name, published)
  const dirty = normalName(name) !== (profile.display_name ?? '') || published !== profile.published
  const submit = (event: FormEvent) => {
    event.preventDefault()
    if (!problem) save.mutate()
  }

  return (
    <form className="stack profile-form" onSubmit={submit} aria-describedby="profile-state">
      <label className="field">
        <span>Display name</span>
        <input type="text" value={name} maxLength={MAX_NAME_LENGTH} autoComplete="name" onChange={(e) => setName(e.target.value)} />
        <span className="hint">Shown to doctors you share with, instead of your wallet address.</span>
      </label>
      <label className="check">
        <input type="checkbox" checked={published} onChange={(e) => setPublished(e.target.checked)} />
        Doctors can find me by this name
      </label>
      <p className="hint">
        Off: doctors find you only by your exact wallet address, and see no name. Either way, a doctor reads nothing until you approve
        their request.
      </p>
      {problem && dirty && <p className="field-problem">{problem}</p>}
      <div>
        <button type="submit" className="btn btn-primary" disabled={!!problem || !dirty || save.isPending}>
          {save.isPending ? 'Saving…' : 'Save profile'}
        </button>
      </div>
      <p id="profile-state" className="muted small">
        {profile.published && profile.display_name ? (
          <>
            Doctors can find you as <strong>{profile.display_name}</strong>.
          </>
        ) : (
          'Doctors cannot find you by name.'
        )}
        {profile.updated_at && <> Last changed {formatDate(profile.updated_at)}.</>}
      </p>
      {save.isSuccess && !dirty && <Notice kind="success">Profile saved.</Notice>}
      <ErrorNotice error={save.error} title="The profile was not saved" />
    </form>
  )
}

function DoctorProfileView({ profile }: { profile: DoctorOwnProfile }) {
  return (
    <>
      <dl className="facts">
        <dt>Name</dt>
        <dd>{profile.name ?? <span className="muted">not recorded</span>}</dd>
        <dt>Licence number</dt>
        <dd>{profile.licence_id ?? <span className="muted">not recorded</span>}</dd>
        <dt>Registry</dt>
        <dd>{profile.registered ? <Badge kind="ok">registered doctor</Badge> : <Badge kind="warn">not registered</Badge>}</dd>
      </dl>
      <p className="hint">Patients see this name on your requests. The registrar records it with your licence; ask them to correct it.</p>
    </>
  )
}

export function Profile() {
  const { session } = useSession()
  const profile = useProfile()
  const data = profile.data
  return (
    <section className="card" aria-labelledby="profile-title">
      <h2 id="profile-title">Your profile</h2>
      <p>
        Wallet address <Address value={session?.address} />
      </p>
      <QueryState query={profile} empty={false} emptyText="" what="your profile" />
      {data?.role === 'patient' && <PatientProfileForm profile={data} />}
      {data?.role === 'doctor' && <DoctorProfileView profile={data} />}
      {data?.role === 'registrar' && <p className="muted">Registrars have no public profile.</p>}
    </section>
  )
}
