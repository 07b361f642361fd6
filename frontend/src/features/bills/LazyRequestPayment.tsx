/** "Request payment", loaded on first use (the bills code stays out of the main bundle). */
import { lazy, Suspense, type ComponentProps } from 'react'

const Form = lazy(() => import('./RequestPayment').then((m) => ({ default: m.RequestPayment })))

export function RequestPayment(props: ComponentProps<typeof Form>) {
  return (
    <Suspense fallback={<p className="muted">Loading…</p>}>
      <Form {...props} />
    </Suspense>
  )
}
