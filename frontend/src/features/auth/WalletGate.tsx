/**
 * Everything before a signed-in session: finding a wallet, connecting it, signing in with it. Each
 * wallet step is a TanStack mutation, for its pending and error state.
 */
import { useMutation } from '@tanstack/react-query'
import { ErrorNotice, Notice, SignButton } from '../../components/ui'
import { useSession } from '../../session/SessionContext'
import { networkName } from '../../wallet/chain'
import { useWallet } from '../../wallet/WalletContext'

export function NoWallet() {
  return (
    <section className="card" aria-labelledby="no-wallet-title">
      <h2 id="no-wallet-title">No wallet found in this browser</h2>
      <p>
        HealthLedger has no passwords: you sign in and approve every change with an Ethereum wallet, so only you control
        your records.
      </p>
      <ol>
        <li>Install a browser wallet extension (for example MetaMask, Rabby or Frame) and create or import an account.</li>
        <li>Reload this page. The wallet will appear here, and you can connect it.</li>
      </ol>
      <p className="muted">Using the app costs nothing: HealthLedger pays the network fees for the transactions you sign.</p>
    </section>
  )
}

export function ConnectWallet() {
  const wallet = useWallet()
  const connect = useMutation({ mutationFn: (index: number) => wallet.connect(wallet.providers[index]) })
  return (
    <section className="card" aria-labelledby="connect-title">
      <h2 id="connect-title">Connect your wallet</h2>
      <p>Your wallet will ask which account to share with HealthLedger. Connecting only shares your address; it signs nothing.</p>
      <ul className="wallet-list">
        {wallet.providers.map((detail, index) => (
          <li key={detail.info.uuid}>
            <button type="button" className="btn btn-primary" onClick={() => connect.mutate(index)} disabled={wallet.connecting}>
              {detail.info.icon && <img src={detail.info.icon} alt="" width={20} height={20} />}
              Connect {detail.info.name}
            </button>
          </li>
        ))}
      </ul>
      <ErrorNotice error={connect.error} title="Could not connect" />
    </section>
  )
}

export function SignIn() {
  const wallet = useWallet()
  const { signIn, endedReason } = useSession()
  const run = useMutation({ mutationFn: () => signIn() })
  return (
    <section className="card" aria-labelledby="signin-title">
      <h2 id="signin-title">Sign in</h2>
      {endedReason && <Notice kind="warning">{endedReason}</Notice>}
      <p>
        Connected as <code>{wallet.account}</code>.
      </p>
      <SignButton
        onClick={() => run.mutate()}
        busy={run.isPending}
        explain={
          <>
            Your wallet will show a short text (“Sign-In with Ethereum”) naming this site, your address and a one-time code. Signing it
            proves you hold this account. It is not a transaction: it costs nothing, moves nothing and approves nothing.
          </>
        }
      >
        Sign in (signs a one-time sign-in text)
      </SignButton>
      <ErrorNotice error={run.error} title="Sign-in failed" />
    </section>
  )
}

export function WrongChainBanner() {
  const wallet = useWallet()
  const run = useMutation({ mutationFn: () => wallet.switchChain() })
  if (!wallet.wrongChain || !wallet.expectedChain) return null
  return (
    <Notice kind="warning" title="Your wallet is on another network">
      <p>
        HealthLedger runs on {networkName(wallet.expectedChain.chainId)}; your wallet is on {networkName(wallet.chainId)}.
        Signatures made for another network are refused.
      </p>
      <button type="button" className="btn btn-secondary" onClick={() => run.mutate()} disabled={run.isPending}>
        Switch network to {networkName(wallet.expectedChain.chainId)}
      </button>
      <p className="muted small">If your wallet does not know this network yet, it will ask to add it (RPC {wallet.expectedChain.rpcUrls[0]}).</p>
      <ErrorNotice error={run.error} title="Could not switch network" />
    </Notice>
  )
}
