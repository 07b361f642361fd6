import { defineConfig } from 'vitest/config'
import react from '@vitejs/plugin-react'

// The backend the dev server forwards `/api` to; override with HEALTHLEDGER_API=http://host:port.
const apiTarget = process.env.HEALTHLEDGER_API ?? 'http://127.0.0.1:8000'
const proxy = { '/api': { target: apiTarget, changeOrigin: false } }

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
  },
  worker: {
    format: 'es',
  },
  server: { host: '127.0.0.1', port: 5173, strictPort: true, proxy },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true, proxy },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
})
