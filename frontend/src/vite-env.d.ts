/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** RPC URL offered to wallets for the local chain when the backend publishes none. */
  readonly VITE_RPC_URL?: string
}
