/**
 * The bills API (`/api/bills`, issue 17): the app's names for its shapes, all taken from the
 * generated OpenAPI types (`schema.gen.ts`, `make openapi`), and one typed wrapper per route (a wrong
 * path, parameter or body field is a compile error, as in api/endpoints.ts).
 */
import { unwrap, type ApiClient } from './client'
import type { Schemas, TypedDataPayload } from './types'

/** A uint256 in base units, as a decimal string (too big for a JS number). */
export type BaseUnits = string

/** A token a bill can be in (ETH is the zero address, 18 decimals, no permit). */
export type TokenInfo = Schemas['TokenInfo']
/** GET /api/bills/config */
export type BillingConfig = Schemas['BillingConfig']
export type BillPayment = Schemas['BillPayment']
export type BillRefund = Schemas['BillRefund']
/** One bill: terms from the index, status and amounts read from the chain when served. */
export type Bill = Schemas['Bill']
/** GET /api/bills: the bills, and `partial` when the scan for bills issued directly on chain did not finish. */
export type BillList = Schemas['BillList']
export type BillStatus = Bill['status']
/** 202 answer of a relayed action whose transaction was not mined within the server's wait. */
export type PendingAction = Schemas['Pending']
export type SignedPayload = { payload: TypedDataPayload; signature: string }
/** POST /api/bills/issue/typed-data */
export type IssueBillBody = Schemas['IssueRequest']
/** POST /api/bills/{billId}/pay/typed-data: the EIP-2612 Permit and the PayBill to sign. */
export type PayTypedData = Schemas['PayTypedData']
/** A transaction for the wallet's eth_sendTransaction (value in wei, decimal string). */
export type WalletTransaction = Schemas['WalletTransaction']
export type BillRole = 'patient' | 'issuer'
/** A FHIR R4 PaymentReconciliation (GET /api/bills/{billId}/receipt), read defensively (lib/bills.ts). */
export type PaymentReconciliation = Schemas['PaymentReconciliation']
/** POST /api/bills/clinics: the registrar's approval or revocation, once sent. */
export type ClinicStatus = Schemas['ClinicStatus']

export function isPending(result: Bill | PendingAction): result is PendingAction {
  return (result as PendingAction).status === 'pending'
}

export function createBillsApi(client: ApiClient) {
  const { http } = client
  const path = (billId: string) => ({ path: { bill_id: billId } })
  return {
    config: () => unwrap(http.GET('/api/bills/config')),
    list: (role: BillRole): Promise<BillList> => unwrap(http.GET('/api/bills', { params: { query: { role } } })),
    get: (billId: string) => unwrap(http.GET('/api/bills/{bill_id}', { params: path(billId) })),
    /** Index the bills a mined transaction issued (e.g. `issueBill` sent from a wallet); the caller's among them. */
    index: (txHash: string): Promise<BillList> => unwrap(http.POST('/api/bills/index', { body: { txHash } })),
    issueTypedData: async (body: IssueBillBody) => (await unwrap(http.POST('/api/bills/issue/typed-data', { body }))).payload,
    /** The bill once mined (201), or the pending transaction (202). */
    issue: (signed: SignedPayload): Promise<Bill | PendingAction> => unwrap(http.POST('/api/bills', { body: signed })),
    payTypedData: (billId: string, body: { amount?: BaseUnits; deadlineSeconds?: number }) =>
      unwrap(http.POST('/api/bills/{bill_id}/pay/typed-data', { params: path(billId), body })),
    pay: (billId: string, body: { permit: SignedPayload; payBill: SignedPayload }): Promise<Bill | PendingAction> =>
      unwrap(http.POST('/api/bills/{bill_id}/pay', { params: path(billId), body })),
    payTransaction: (billId: string, amount?: BaseUnits) =>
      unwrap(http.GET('/api/bills/{bill_id}/pay/transaction', { params: { ...path(billId), query: amount ? { amount } : {} } })),
    refundTransactions: async (billId: string, amount?: BaseUnits) =>
      (await unwrap(http.GET('/api/bills/{bill_id}/refund/transactions', { params: { ...path(billId), query: amount ? { amount } : {} } }))).transactions,
    sync: (billId: string, txHash: string) => unwrap(http.POST('/api/bills/{bill_id}/sync', { params: path(billId), body: { txHash } })),
    cancelTypedData: async (billId: string) => (await unwrap(http.POST('/api/bills/{bill_id}/cancel/typed-data', { params: path(billId) }))).payload,
    cancel: (billId: string, signed: SignedPayload): Promise<Bill | PendingAction> =>
      unwrap(http.POST('/api/bills/{bill_id}/cancel', { params: path(billId), body: signed })),
    /** A registrar approves (or revokes) a clinic as issuer and payee; HealthLedger sends it. */
    setClinic: (clinic: string, approved: boolean): Promise<ClinicStatus> =>
      unwrap(http.POST('/api/bills/clinics', { body: { clinic, approved } })),
    receipt: (billId: string) =>
      unwrap(http.GET('/api/bills/{bill_id}/receipt', { params: path(billId), headers: { Accept: 'application/fhir+json, application/json' } })),
  }
}

export type BillsApi = ReturnType<typeof createBillsApi>
