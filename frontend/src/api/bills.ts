/**
 * The bills API (`/api/bills`, issue 17): request and answer types and one wrapper per route.
 *
 * Written by hand from the shared spec while the backend's routes are being built in parallel: they
 * are not in `schema.gen.ts` yet, so these calls go through the same authenticated openapi-fetch
 * client (bearer token, refresh, error parsing) with the path typed loosely. Once `make openapi`
 * includes the bills routes, these types become aliases of the generated schemas and the calls use
 * the typed `paths` like api/endpoints.ts.
 */
import { unwrap, type ApiClient } from './client'
import type { TypedDataPayload } from './types'

/** 0x-prefixed 20-byte address (checksummed by the server). */
export type Address = string
/** A uint256 in base units, as a decimal string (too big for a JS number). */
export type BaseUnits = string

export interface TokenInfo {
  address: Address
  symbol: string
  name: string
  decimals: number
  /** Whether the token supports EIP-2612 permit (gasless payment). ETH: false. */
  permit: boolean
}

/** GET /api/bills/config */
export interface BillingConfig {
  billPayments: Address
  chainId: number
  tokens: TokenInfo[]
}

export interface BillPayment {
  txHash: string
  payer: Address
  amount: BaseUnits
  partial: boolean
  blockNumber: number
  at: string | null
}

export interface BillRefund {
  txHash: string
  amount: BaseUnits
  blockNumber: number
  at: string | null
}

export type BillStatus = 'open' | 'paid' | 'cancelled'

export interface Bill {
  /** 0x + 64 hex. */
  billId: string
  patient: Address
  payee: Address
  issuer: Address
  token: TokenInfo
  amount: BaseUnits
  paid: BaseUnits
  refunded: BaseUnits
  remaining: BaseUnits
  /** Unix seconds. */
  dueDate: number
  recordId: number
  status: BillStatus
  overdue: boolean
  issuedTx: string
  issuedBlock: number
  issuedAt: string | null
  payments: BillPayment[]
  refunds: BillRefund[]
  cancelledTx: string | null
}

export interface BillList {
  bills: Bill[]
}

/** 202 answer of a relayed action whose transaction was not mined within the server's wait. */
export interface PendingAction {
  status: 'pending'
  txHash: string
}

export interface SignedPayload {
  payload: TypedDataPayload
  signature: string
}

export interface IssueBillBody {
  patientAddress: Address
  recordId: number
  token: Address
  amount: BaseUnits
  /** Unix seconds. */
  dueDate: number
  payee?: Address
}

export interface PayTypedData {
  permit: TypedDataPayload
  payBill: TypedDataPayload
}

/** A transaction for the wallet's eth_sendTransaction (value in wei, decimal string or hex). */
export interface WalletTransaction {
  to: Address
  data: string
  value: string
  chainId: number
}

export type BillRole = 'patient' | 'issuer'

/** A FHIR R4 PaymentReconciliation (GET /api/bills/{billId}/receipt), read defensively (lib/bills.ts). */
export type PaymentReconciliation = Record<string, unknown>

interface Answer {
  data?: unknown
  error?: unknown
  response: Response
}
/** The authenticated client with the bills paths, which the generated types do not list yet. */
interface LooseClient {
  GET(path: string, init?: { params?: { query?: Record<string, string | number> }; headers?: Record<string, string> }): Promise<Answer>
  POST(path: string, init?: { body?: unknown }): Promise<Answer>
}

const bill = (billId: string) => `/api/bills/${encodeURIComponent(billId)}`

/** A relayed action's answer: the bill once mined (200/201), or the pending transaction (202). */
async function relayed(call: Promise<Answer>): Promise<Bill | PendingAction> {
  const answer = await call
  const body = await unwrap(Promise.resolve(answer))
  return body as Bill | PendingAction
}

export function isPending(result: Bill | PendingAction): result is PendingAction {
  return (result as PendingAction).status === 'pending'
}

export function createBillsApi(client: ApiClient) {
  const http = client.http as unknown as LooseClient
  const get = <T>(path: string, query?: Record<string, string | number>) => unwrap(http.GET(path, query ? { params: { query } } : undefined)) as Promise<T>
  const post = <T>(path: string, body?: unknown) => unwrap(http.POST(path, { body: body ?? {} })) as Promise<T>
  return {
    config: () => get<BillingConfig>('/api/bills/config'),
    list: async (role: BillRole) => (await get<BillList>('/api/bills', { role })).bills,
    get: (billId: string) => get<Bill>(bill(billId)),
    issueTypedData: async (body: IssueBillBody) => (await post<{ payload: TypedDataPayload }>('/api/bills/issue/typed-data', body)).payload,
    issue: (signed: SignedPayload) => relayed(http.POST('/api/bills', { body: signed })),
    payTypedData: (billId: string, body: { amount?: BaseUnits; deadlineSeconds?: number }) => post<PayTypedData>(`${bill(billId)}/pay/typed-data`, body),
    pay: (billId: string, body: { permit: SignedPayload; payBill: SignedPayload }) => relayed(http.POST(`${bill(billId)}/pay`, { body })),
    payTransaction: (billId: string, amount?: BaseUnits) =>
      get<WalletTransaction>(`${bill(billId)}/pay/transaction`, amount ? { amount } : undefined),
    refundTransactions: async (billId: string, amount?: BaseUnits) =>
      (await get<{ transactions: WalletTransaction[] }>(`${bill(billId)}/refund/transactions`, amount ? { amount } : undefined)).transactions,
    sync: (billId: string, txHash: string) => post<Bill>(`${bill(billId)}/sync`, { txHash }),
    cancelTypedData: async (billId: string) => (await post<{ payload: TypedDataPayload }>(`${bill(billId)}/cancel/typed-data`)).payload,
    cancel: (billId: string, signed: SignedPayload) => relayed(http.POST(`${bill(billId)}/cancel`, { body: signed })),
    receipt: (billId: string) => unwrap(http.GET(`${bill(billId)}/receipt`, { headers: { Accept: 'application/fhir+json, application/json' } })) as Promise<PaymentReconciliation>,
  }
}

export type BillsApi = ReturnType<typeof createBillsApi>
