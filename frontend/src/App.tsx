import type { ReactNode } from 'react'
import type { Role } from './api/types'
import { Address, Badge } from './components/ui'
import { ConnectWallet, NoWallet, SignIn, WrongChainBanner } from './features/auth/WalletGate'
import { AddRecord } from './features/doctor/AddRecord'
import { AuthoredRecords } from './features/doctor/AuthoredRecords'
import { AuthorizedRecords } from './features/doctor/AuthorizedRecords'
import { FindPatient } from './features/doctor/FindPatient'
import { AccountKeySetup } from './features/keys/AccountKeySetup'
import { descriptionId, TabBadge } from './features/notifications/TabBadge'
import { useNotifications } from './features/notifications/useNotifications'
import { MyRequests } from './features/doctor/MyRequests'
import { WritableVaults } from './features/doctor/WritableVaults'
import { Audit } from './features/patient/Audit'
import { Records } from './features/patient/Records'
import { Requests } from './features/patient/Requests'
import { Sharing } from './features/patient/Sharing'
import { Upload } from './features/patient/Upload'
import { UploadProvider } from './features/patient/UploadQueue'
import { WriteAccess } from './features/patient/WriteAccess'
import { AuditAll } from './features/registrar/AuditAll'
import { Doctors } from './features/registrar/Doctors'
import { Status } from './features/system/Status'
import { useHashRoute } from './lib/useHashRoute'
import { useSession } from './session/SessionContext'
import { useWallet } from './wallet/WalletContext'

interface Screen {
  route: string
  label: string
  render: () => ReactNode
}

const SCREENS: Record<Role, Screen[]> = {
  patient: [
    { route: 'records', label: 'My records', render: () => <Records /> },
    { route: 'upload', label: 'Upload', render: () => <Upload /> },
    { route: 'requests', label: 'Requests', render: () => <Requests /> },
    {
      route: 'sharing',
      label: 'Sharing',
      render: () => (
        <>
          <Sharing />
          <WriteAccess />
        </>
      ),
    },
    { route: 'audit', label: 'Audit trail', render: () => <Audit /> },
  ],
  doctor: [
    {
      route: 'find',
      label: 'Find patient',
      render: () => (
        <>
          <FindPatient />
          <MyRequests />
        </>
      ),
    },
    {
      route: 'authorized',
      label: 'Authorized records',
      render: () => (
        <>
          <AuthorizedRecords />
          <WritableVaults />
        </>
      ),
    },
    {
      route: 'add',
      label: 'Add a record',
      render: () => (
        <>
          <AddRecord />
          <AuthoredRecords />
        </>
      ),
    },
  ],
  registrar: [
    { route: 'doctors', label: 'Doctors', render: () => <Doctors /> },
    { route: 'audit', label: 'Audit trail', render: () => <AuditAll /> },
  ],
}
const STATUS_SCREEN: Screen = { route: 'status', label: 'Status', render: () => <Status /> }

function Header() {
  const wallet = useWallet()
  const { session, signOut } = useSession()
  return (
    <header className="site-header">
      <div className="brand">
        <svg aria-hidden="true" className="logo" viewBox="0 0 32 32" width="26" height="26">
          <rect width="32" height="32" rx="7" fill="currentColor" />
          <path d="M16 6l8 3v6c0 5-3.4 9.3-8 11-4.6-1.7-8-6-8-11V9z" fill="#fff" />
          <path d="M14.5 11h3v3.5H21v3h-3.5V21h-3v-3.5H11v-3h3.5z" fill="currentColor" />
        </svg>
        HealthLedger
      </div>
      <div className="who" aria-label="Wallet">
        {wallet.account ? (
          <>
            {wallet.selected && <span className="muted small">{wallet.selected.info.name}</span>}
            <Address value={wallet.account} />
            {wallet.chainId !== null && (
              <Badge kind={wallet.wrongChain ? 'warn' : 'neutral'} title="network (chain id)">
                chain {wallet.chainId}
              </Badge>
            )}
            {session && <Badge kind="ok">{session.role}</Badge>}
            {session && (
              <button type="button" className="btn btn-small btn-secondary" onClick={() => signOut()}>
                Sign out
              </button>
            )}
          </>
        ) : (
          <span className="muted small">{wallet.discovery === 'searching' ? 'Looking for a wallet…' : 'Not connected'}</span>
        )}
      </div>
    </header>
  )
}

function Workspace({ role }: { role: Role }) {
  const screens = [...SCREENS[role], STATUS_SCREEN]
  const [route, go] = useHashRoute()
  const screen = screens.find((s) => s.route === route) ?? screens[0]
  const badges = useNotifications(role, screen.route)
  return (
    <>
      <nav aria-label="Sections" className="tabs">
        {screens.map((s) => (
          <a
            key={s.route}
            href={`#/${s.route}`}
            aria-current={s === screen ? 'page' : undefined}
            aria-describedby={badges[s.route] ? descriptionId(s.route) : undefined}
            onClick={(e) => {
              e.preventDefault()
              go(s.route)
            }}
          >
            {s.label}
            <TabBadge route={s.route} badge={badges[s.route]} />
          </a>
        ))}
      </nav>
      {screen.render()}
    </>
  )
}

function Body() {
  const wallet = useWallet()
  const { session } = useSession()
  if (wallet.discovery === 'searching' && !wallet.account) return <p className="muted">Looking for a wallet in this browser…</p>
  if (wallet.discovery === 'none') return <NoWallet />
  if (!wallet.account) {
    return (
      <>
        <ConnectWallet />
        {session && <p className="muted">You are still signed in; connect the same wallet account to continue.</p>}
      </>
    )
  }
  if (!session) return <SignIn />
  // Uploads live above the tabs: they keep running (and showing) when the patient switches tab.
  return (
    <UploadProvider>
      <Workspace role={session.role} />
    </UploadProvider>
  )
}

export function App() {
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        <WrongChainBanner />
        <AccountKeySetup />
        <Body />
      </main>
      <footer className="site-footer muted small">
        Your files are encrypted under a key only your wallet can recreate; their fingerprints are anchored on Ethereum.
      </footer>
    </>
  )
}
