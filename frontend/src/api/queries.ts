/**
 * Server data through TanStack Query: one query per list or detail the screens show, keyed per
 * signed-in account, and the invalidation a mutation asks for afterwards. Screens never keep their
 * own copy of server data, so a change made on one screen shows on every other without a reload key.
 */
import { keepPreviousData, useQueries, useQuery, useQueryClient } from '@tanstack/react-query'
import { useCallback, useMemo } from 'react'
import { useSession } from '../session/SessionContext'
import type { Api } from './endpoints'
import { ACCOUNT } from './queryClient'
import type { MedicalRecord } from './types'
import { createBillsApi, type BillList, type BillRole, type BillsApi } from './bills'

/** The server data the app reads: one name per query (the second part of every key). */
export type ServerData =
  | 'records'
  | 'patientRequests'
  | 'grants'
  | 'writeGrants'
  | 'doctorWriteGrants'
  | 'doctorRequests'
  | 'authorized'
  | 'authored'
  | 'patientAudit'
  | 'patientRecordViews'
  | 'auditAll'
  | 'doctors'
  | 'patients'
  | 'status'
  | 'accountKey'
  | 'profile'
  | 'bills'
  | 'billsConfig'

function useKey(what: ServerData, ...rest: unknown[]): unknown[] {
  const { session } = useSession()
  return [ACCOUNT, session?.address.toLowerCase() ?? null, what, ...rest]
}

/** Mark some server data stale after a change (its shown queries refetch; the promise waits for them). */
export function useInvalidate(): (...what: ServerData[]) => Promise<void> {
  const queryClient = useQueryClient()
  const { session } = useSession()
  const address = session?.address.toLowerCase() ?? null
  return useCallback(
    async (...what: ServerData[]) => {
      await Promise.all(what.map((name) => queryClient.invalidateQueries({ queryKey: [ACCOUNT, address, name] })))
    },
    [queryClient, address],
  )
}

const isSettling = (record: MedicalRecord) => record.state === 'pending' || record.state === 'anchored'

/**
 * The patient's records. While any is pending or anchored it polls (every `settlingPollMs`), since
 * the reconciler turns them confirmed as they are mined and buried.
 */
export function usePatientRecords({ settlingPollMs = 0, enabled = true }: { settlingPollMs?: number; enabled?: boolean } = {}) {
  const { api } = useSession()
  return useQuery({
    queryKey: useKey('records'),
    queryFn: () => api.records.patientRecords(),
    enabled,
    refetchInterval: (query) => (settlingPollMs && query.state.data?.some(isSettling) ? settlingPollMs : false),
  })
}

/**
 * The records the signed-in doctor added to patients' vaults. Like the patient's list it polls while
 * any is still pending or anchored (the reconciler confirms them as they are mined and buried).
 */
export function useAuthoredRecords({ settlingPollMs = 0 }: { settlingPollMs?: number } = {}) {
  const { api } = useSession()
  return useQuery({
    queryKey: useKey('authored'),
    queryFn: () => api.records.authored(),
    refetchInterval: (query) => (settlingPollMs && query.state.data?.some(isSettling) ? settlingPollMs : false),
  })
}

/** A signed-in query that only calls one endpoint wrapper. */
function useApiQuery<T>(what: ServerData, load: (api: Api) => Promise<T>) {
  const { api } = useSession()
  return useQuery({ queryKey: useKey(what), queryFn: () => load(api) })
}

export const usePatientRequests = () => useApiQuery('patientRequests', (api) => api.access.patientRequests())
export const usePatientGrants = () => useApiQuery('grants', (api) => api.access.patientGrants())
export const usePatientWriteGrants = () => useApiQuery('writeGrants', (api) => api.access.patientWriteGrants())
export const useDoctorWriteGrants = () => useApiQuery('doctorWriteGrants', (api) => api.access.doctorWriteGrants())
export const useDoctorRequests = () => useApiQuery('doctorRequests', (api) => api.access.doctorRequests())
export const useAuthorizedRecords = () => useApiQuery('authorized', (api) => api.access.authorizedRecords())
export const usePatientAudit = () => useApiQuery('patientAudit', (api) => api.audit.patient())
export const useSystemStatus = () => useApiQuery('status', (api) => api.system.status())

export function useAuditPage(page: number, pageSize: number) {
  const { api } = useSession()
  // The page on screen stays while the next one loads.
  return useQuery({ queryKey: useKey('auditAll', page, pageSize), queryFn: () => api.audit.all(page, pageSize), placeholderData: keepPreviousData })
}

/** A directory search, run once `q` is set (a submitted search box), cached per query text. */
export function useDoctorSearch(q: string | null) {
  const { api } = useSession()
  return useQuery({ queryKey: useKey('doctors', q), queryFn: () => api.directory.doctors(q ?? ''), enabled: q !== null })
}

export function usePatientSearch(q: string | null) {
  const { api } = useSession()
  return useQuery({ queryKey: useKey('patients', q), queryFn: () => api.directory.patients(q ?? ''), enabled: q !== null })
}

/**
 * An account's registered encryption key, keyed by that address: `null` when it has none yet (404
 * `key_not_found`), an error (409 `key_binding_invalid`) when the stored key fails its signature check.
 */
export function useAccountKey(address: string | null) {
  const { api } = useSession()
  return useQuery({
    queryKey: useKey('accountKey', address?.toLowerCase() ?? null),
    queryFn: () => api.keys.get(address ?? ''),
    enabled: address !== null,
  })
}

/**
 * The published display name of each patient in `addresses` (doctors only: the patient search by
 * exact address), `null` for one who has not published a name. A map keyed by lower-case address;
 * an address whose look-up is still loading or failed is absent, so screens fall back to it.
 */
export function usePatientNames(addresses: readonly string[]): Map<string, string | null> {
  const { api } = useSession()
  const base = useKey('patients')
  const unique = [...new Set(addresses.map((address) => address.toLowerCase()))]
  const results = useQueries({
    queries: unique.map((address) => ({
      queryKey: [...base, 'name', address],
      queryFn: async () => (await api.directory.patients(address))[0]?.display_name ?? null,
      staleTime: 5 * 60_000,
    })),
  })
  const names = new Map<string, string | null>()
  unique.forEach((address, i) => {
    if (results[i].isSuccess) names.set(address, results[i].data ?? null)
  })
  return names
}

/**
 * The public client configuration (GET /api/system/config), shared with the session's copy (same
 * key, fetched once); here for the block explorer behind transaction links.
 */
export function useClientConfig() {
  const { api } = useSession()
  return useQuery({ queryKey: ['config'], queryFn: () => api.system.config(), staleTime: Infinity })
}

/** How often doctors opened each of the patient's files, and when last (GET /api/audit/patient/views). */
export const usePatientRecordViews = () => useApiQuery('patientRecordViews', (api) => api.audit.patientViews())

/** The signed-in person's own profile (GET /api/profile). */
export const useProfile = () => useApiQuery('profile', (api) => api.profile.get())

/**
 * Every doctor in the directory, registered or not (the registrar's list), or those matching `q`;
 * the first page of the largest size the API allows.
 */
export function useDoctorList(q: string) {
  const { api } = useSession()
  return useQuery({
    queryKey: useKey('doctors', 'list', q),
    queryFn: () => api.directory.doctorPage(q, 200),
    placeholderData: keepPreviousData,
  })
}

// ------------------------------------------------------------------ bills (issue 17)

/** The bills API on the session's authenticated client. */
export function useBillsApi(): BillsApi {
  const { api } = useSession()
  return useMemo(() => createBillsApi(api.client), [api])
}

/** GET /api/bills/config: the BillPayments contract and the tokens a bill can be in (ETH and the configured token). */
export function useBillingConfig({ enabled = true }: { enabled?: boolean } = {}) {
  const bills = useBillsApi()
  return useQuery({ queryKey: useKey('billsConfig'), queryFn: () => bills.config(), staleTime: 5 * 60_000, enabled })
}

/**
 * The caller's bills as patient or as issuer/payee (GET /api/bills?role=), and whether the list is
 * `partial`. Status and amounts are read from the chain when served, so it refetches every `pollMs`
 * when asked (a payment in flight).
 */
export function useBills(role: BillRole, { pollMs = 0, enabled = true }: { pollMs?: number; enabled?: boolean } = {}) {
  const bills = useBillsApi()
  return useQuery<BillList>({
    queryKey: useKey('bills', role),
    queryFn: () => bills.list(role),
    refetchInterval: pollMs || false,
    enabled,
  })
}

/** The FHIR PaymentReconciliation of a paid bill, fetched when `billId` is set. */
export function useBillReceipt(billId: string | null) {
  const bills = useBillsApi()
  return useQuery({ queryKey: useKey('bills', 'receipt', billId), queryFn: () => bills.receipt(billId ?? ''), enabled: billId !== null })
}
