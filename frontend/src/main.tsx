import { QueryClientProvider } from '@tanstack/react-query'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { createQueryClient } from './api/queryClient'
import { App } from './App'
import { SessionProvider } from './session/SessionContext'
import { WalletProvider } from './wallet/WalletContext'
import './styles.css'

const queryClient = createQueryClient()

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <WalletProvider>
        <SessionProvider>
          <App />
        </SessionProvider>
      </WalletProvider>
    </QueryClientProvider>
  </StrictMode>,
)
