import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App'
import { SessionProvider } from './session/SessionContext'
import { WalletProvider } from './wallet/WalletContext'
import './styles.css'

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <WalletProvider>
      <SessionProvider>
        <App />
      </SessionProvider>
    </WalletProvider>
  </StrictMode>,
)
