/**
 * The signed-in session: JWTs (through the ApiClient), the role, and the patient's key-derivation
 * signature, which lives in this component's memory only: never in localStorage or sessionStorage,
 * gone on sign-out, on an account switch and when the tab closes.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import type { Hex } from 'viem'
import { ApiClient, sessionStorageStore, type Session } from '../api/client'
import { createApi, type Api } from '../api/endpoints'
import { forgetAccounts } from '../api/queryClient'
import type { ClientConfig, KeyDerivationMessage, TypedDataAction, TypedDataParams, TypedDataPayload } from '../api/types'
import { siweMessageFromNonce } from '../lib/siwe'
import { localChainParams, parseChainId, readChainId, wrongNetworkMessage } from '../wallet/chain'
import { personalSign, signTypedDataV4 } from '../wallet/signing'
import { useWallet } from '../wallet/WalletContext'

export const DEFAULT_RPC_URL: string = import.meta.env.VITE_RPC_URL ?? 'http://127.0.0.1:8545'
const CHAIN_KEY = 'healthledger.chainId'

export interface SignedAction {
  signature: Hex
  nonce: number
  deadline: number
  payload: TypedDataPayload
}

export interface SessionState {
  api: Api
  session: Session | null
  /** Why the last session ended (expired, account switched), shown once on the sign-in screen. */
  endedReason: string | null
  signIn(): Promise<Session>
  signOut(reason?: string): void
  keyMessage: KeyDerivationMessage | null
  loadKeyMessage(): Promise<KeyDerivationMessage>
  /** The key-derivation signature of this session, if the patient gave it. */
  keySignature: Hex | null
  signKeyMessage(): Promise<Hex>
  /** Fetch the EIP-712 payload for `action`, check the chain, and sign it with the wallet. */
  signAction<A extends TypedDataAction>(action: A, params: TypedDataParams<A>): Promise<SignedAction>
  config: Partial<ClientConfig>
  rpcUrl: string
}

const SessionContext = createContext<SessionState | null>(null)

/** A signed nonce or deadline as the API's bodies take it (the payload may carry it as a string). */
function asInteger(value: unknown, name: string): number {
  if (value === undefined || value === null) throw new Error(`The signing payload had no ${name}.`)
  return Number(value)
}

function savedChainId(): number | null {
  try {
    return parseChainId(globalThis.sessionStorage?.getItem(CHAIN_KEY))
  } catch {
    return null
  }
}

export function SessionProvider({ children, client: givenClient }: { children: ReactNode; client?: ApiClient }) {
  const wallet = useWallet()
  const queryClient = useQueryClient()
  const client = useMemo(() => givenClient ?? new ApiClient({ store: sessionStorageStore() }), [givenClient])
  const api = useMemo(() => createApi(client), [client])
  const [session, setSession] = useState<Session | null>(client.session)
  const [endedReason, setEndedReason] = useState<string | null>(null)
  const [keyMessage, setKeyMessage] = useState<KeyDerivationMessage | null>(null)
  const [keySig, setKeySig] = useState<{ address: string; signature: Hex } | null>(null)
  const [chainId, setChainId] = useState<number | null>(savedChainId)
  const lastAccount = useRef<string | null>(null)

  useEffect(
    () =>
      client.subscribe((next, reason) => {
        setSession(next)
        if (!next) {
          forgetAccounts(queryClient)
          setKeySig(null)
          if (reason) setEndedReason(reason)
        }
      }),
    [client, queryClient],
  )

  // Optional client configuration (RPC URL, chain name); absent on servers that don't publish it.
  const configQuery = useQuery({ queryKey: ['config'], queryFn: () => api.system.config(), staleTime: Infinity })
  const config = useMemo(() => configQuery.data ?? {}, [configQuery.data])
  useEffect(() => {
    if (config.chain_id) setChainId(config.chain_id)
  }, [config.chain_id])

  const rpcUrl = config.rpc_url ?? DEFAULT_RPC_URL
  const { setExpectedChain } = wallet
  useEffect(() => {
    if (chainId === null) return
    try {
      globalThis.sessionStorage?.setItem(CHAIN_KEY, String(chainId))
    } catch {
      /* not persisted */
    }
    setExpectedChain(localChainParams(chainId, rpcUrl, config.chain_name ?? undefined))
  }, [chainId, rpcUrl, config.chain_name, setExpectedChain])

  const signOut = useCallback(
    (reason?: string) => {
      setKeySig(null)
      client.signOut(reason)
      if (reason) setEndedReason(reason)
    },
    [client],
  )

  // A session belongs to one address: switching or locking the wallet ends it.
  useEffect(() => {
    const previous = lastAccount.current
    lastAccount.current = wallet.account
    if (!session) return
    if (wallet.account && wallet.account.toLowerCase() !== session.address.toLowerCase()) {
      signOut('You switched to another wallet account, so you were signed out. Sign in again with this account.')
    } else if (!wallet.account && previous) {
      signOut('Your wallet disconnected or locked, so you were signed out.')
    }
  }, [wallet.account, session, signOut])

  const signIn = useCallback(async () => {
    const provider = wallet.provider
    const address = wallet.account
    if (!provider || !address) throw new Error('Connect your wallet first.')
    const nonce = await api.auth.nonce()
    setChainId(nonce.chain_id)
    const message = siweMessageFromNonce(nonce, address)
    const signature = await personalSign(provider, address, message)
    const tokens = await api.auth.login(message, signature)
    setEndedReason(null)
    return client.setTokens(tokens)
  }, [wallet.provider, wallet.account, api, client])

  const loadKeyMessage = useCallback(async () => {
    if (keyMessage) return keyMessage
    const value = await api.signing.keyDerivationMessage()
    setKeyMessage(value)
    return value
  }, [api, keyMessage])

  const keySignature = keySig && session && keySig.address.toLowerCase() === session.address.toLowerCase() ? keySig.signature : null

  const signKeyMessage = useCallback(async () => {
    if (keySignature) return keySignature
    const provider = wallet.provider
    const address = wallet.account
    if (!provider || !address || !session) throw new Error('Sign in first.')
    const { message } = await loadKeyMessage()
    const signature = await personalSign(provider, address, message)
    setKeySig({ address, signature })
    return signature
  }, [keySignature, wallet.provider, wallet.account, session, loadKeyMessage])

  const signAction = useCallback(
    async <A extends TypedDataAction>(action: A, params: TypedDataParams<A>): Promise<SignedAction> => {
      const provider = wallet.provider
      const address = wallet.account
      if (!provider || !address) throw new Error('Connect your wallet first.')
      const payload = await api.signing.typedData(action, params)
      const wanted = parseChainId(payload.domain.chainId)
      const current = await readChainId(provider).catch(() => null)
      if (wanted !== null && current !== null && wanted !== current) {
        throw new Error(wrongNetworkMessage(current, wanted))
      }
      const signature = await signTypedDataV4(provider, address, payload)
      return { signature, nonce: asInteger(payload.message.nonce, 'nonce'), deadline: asInteger(payload.message.deadline, 'deadline'), payload }
    },
    [wallet.provider, wallet.account, api],
  )

  const value = useMemo<SessionState>(
    () => ({ api, session, endedReason, signIn, signOut, keyMessage, loadKeyMessage, keySignature, signKeyMessage, signAction, config, rpcUrl }),
    [api, session, endedReason, signIn, signOut, keyMessage, loadKeyMessage, keySignature, signKeyMessage, signAction, config, rpcUrl],
  )
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>
}

export function useSession(): SessionState {
  const value = useContext(SessionContext)
  if (!value) throw new Error('useSession must be used inside <SessionProvider>')
  return value
}
