import { lazy, Suspense, useEffect, useRef, type ReactNode } from 'react'
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
import { Clinics } from './features/registrar/Clinics'
import { Doctors } from './features/registrar/Doctors'
import { Profile } from './features/profile/Profile'
import { Status } from './features/system/Status'
import { useHashRoute } from './lib/useHashRoute'
import { useSession } from './session/SessionContext'
import { networkName } from './wallet/chain'
import { useWallet } from './wallet/WalletContext'

// The bills screens load on first use (issue 17): most sessions never open them.
const PatientBills = lazy(() => import('./features/bills/PatientBills').then((m) => ({ default: m.PatientBills })))
const DoctorBills = lazy(() => import('./features/bills/DoctorBills').then((m) => ({ default: m.DoctorBills })))
const loadingScreen = <p className="muted">Loading…</p>

interface Screen {
  route: string
  /** The tab's text. */
  label: string
  /** The screen's `<h1>` (defaults to `label`): worded apart from its cards' titles, which are its `<h2>`s. */
  title?: string
  render: () => ReactNode
}

const SCREENS: Record<Role, Screen[]> = {
  patient: [
    { route: 'records', label: 'My records', title: 'Your health records', render: () => <Records /> },
    { route: 'upload', label: 'Upload', title: 'Upload files', render: () => <Upload /> },
    { route: 'requests', label: 'Requests', title: 'Requests from doctors', render: () => <Requests /> },
    { route: 'bills', label: 'Bills', title: 'Bills to pay', render: () => <Suspense fallback={loadingScreen}><PatientBills /></Suspense> },
    {
      route: 'sharing',
      label: 'Sharing',
      title: 'Who can see or add to your records',
      render: () => (
        <>
          <Sharing />
          <WriteAccess />
        </>
      ),
    },
    { route: 'audit', label: 'Audit trail', title: 'History of your records', render: () => <Audit /> },
    { route: 'profile', label: 'Profile', title: 'How others see you', render: () => <Profile /> },
  ],
  doctor: [
    {
      route: 'find',
      label: 'Find patient',
      title: 'Patients and your requests',
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
      title: 'Records shared with you',
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
      title: 'Records for your patients',
      render: () => (
        <>
          <AddRecord />
          <AuthoredRecords />
        </>
      ),
    },
    { route: 'bills', label: 'Bills', title: 'Bills and payments', render: () => <Suspense fallback={loadingScreen}><DoctorBills /></Suspense> },
    { route: 'profile', label: 'Profile', title: 'How others see you', render: () => <Profile /> },
  ],
  registrar: [
    { route: 'doctors', label: 'Doctors', title: 'Doctors', render: () => <Doctors /> },
    { route: 'clinics', label: 'Clinics', title: 'Clinics that bill', render: () => <Clinics /> },
    { route: 'audit', label: 'Audit trail', title: 'History of every vault', render: () => <AuditAll /> },
    // The service's health is for the people who run it, not for patients and doctors.
    { route: 'status', label: 'Status', title: 'System status', render: () => <Status /> },
  ],
}

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
        <span className="brand-name">HealthLedger</span>
      </div>
      <div className="who" aria-label="Wallet">
        {wallet.account ? (
          <>
            {wallet.selected && <span className="muted small wallet-name">{wallet.selected.info.name}</span>}
            <Address value={wallet.account} copy={false} />
            {wallet.chainId !== null && (
              <span className={wallet.wrongChain ? 'chain chain-wrong' : 'chain'}>
                <Badge kind={wallet.wrongChain ? 'warn' : 'neutral'} title={`Network (chain id ${wallet.chainId})`}>
                  {networkName(wallet.chainId)}
                </Badge>
              </span>
            )}
            {session && <Badge kind="ok">{session.role}</Badge>}
            {session && (
              <button type="button" className="btn btn-secondary sign-out" onClick={() => signOut()}>
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

/**
 * The screen's title. Focus moves to it whenever the screen changes (a tab, the back button, signing
 * in): keyboard users start at the top of the new screen instead of on a tab, and screen readers
 * announce where they are.
 */
function ScreenTitle({ children, focusKey }: { children: ReactNode; focusKey: string }) {
  const ref = useRef<HTMLHeadingElement>(null)
  useEffect(() => {
    ref.current?.focus({ preventScroll: true })
  }, [focusKey])
  return (
    <h1 ref={ref} tabIndex={-1} className="screen-title">
      {children}
    </h1>
  )
}

function Workspace({ role }: { role: Role }) {
  const screens = SCREENS[role]
  const [route, go] = useHashRoute()
  const screen = screens.find((s) => s.route === route) ?? screens[0]
  const nav = useRef<HTMLElement>(null)
  useEffect(() => {
    // On phones the tabs are one row that scrolls sideways: keep the current one in view.
    nav.current?.querySelector<HTMLElement>('[aria-current="page"]')?.scrollIntoView?.({ block: 'nearest', inline: 'nearest' })
  }, [screen.route])
  const badges = useNotifications(role, screen.route)
  return (
    <>
      <nav aria-label="Sections" className="tabs" ref={nav}>
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
      <ScreenTitle focusKey={`${role}/${screen.route}`}>{screen.title ?? screen.label}</ScreenTitle>
      {screen.render()}
    </>
  )
}

function Body() {
  const wallet = useWallet()
  const { session } = useSession()
  // Uploads live above the tabs: they keep running (and showing) when the patient switches tab.
  if (session && wallet.account) {
    return (
      <UploadProvider>
        <Workspace role={session.role} />
      </UploadProvider>
    )
  }
  return (
    <>
      <ScreenTitle focusKey="signed-out">Welcome to HealthLedger</ScreenTitle>
      <SignedOut />
    </>
  )
}

/** Before a session: find a wallet, connect it, sign in. */
function SignedOut() {
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
  return <SignIn />
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
