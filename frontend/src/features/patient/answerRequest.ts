/**
 * A patient approving a doctor's access request, without React, so the two-step flow and its
 * messages are unit-tested on their own:
 *
 * 1. `approveRecords` (EIP-712 over doctor, records, duration) -> POST /patient/respond. The patient's
 *    key signature of the session opens their copies of the data keys for the doctor.
 * 2. Only when the patient ticked it (a request with `wants_write` offers it, unticked: write access
 *    is an explicit choice): `approveWrite` ({doctor, duration}, the same days) -> POST
 *    /patient/write-grant with `durationDays`.
 *
 * Both grants *replace* the doctor's earlier one on chain, so the card signs, by default, what is
 * shared already plus what is newly ticked, for the later end (sharingPlan.ts): `duration` and
 * `writeDuration` carry those seconds, counted from the chain's time (`chainNow`).
 *
 * The steps are separate transactions. A failure of step 2 does not undo step 1 (the doctor may read
 * what was shared): the outcome says so, and `grantWriteAccess` retries step 2 alone.
 */
import { readableError } from '../../api/errors'
import type { Api } from '../../api/endpoints'
import type { AccessRequest, PatientWriteGrant } from '../../api/types'
import { formatDate, shortAddress } from '../../lib/format'
import type { SignedAction } from '../../session/SessionContext'
import { DAY } from './sharingPlan'

export { DAY }

/** The part of an EIP-1193 provider `chainNow` uses. */
export interface BlockSource {
  request(args: { method: 'eth_getBlockByNumber'; params: ['latest', false] }): Promise<unknown>
}

/**
 * The chain's time in Unix seconds: the latest block's timestamp, since the contract counts a
 * grant's `duration` from the block that mines it (`expiresAt = block.timestamp + duration`) and the
 * browser's clock may differ from the chain's. The clock when the wallet cannot say.
 */
export async function chainNow(provider: BlockSource | null | undefined, clock: () => number = Date.now): Promise<number> {
  const fallback = Math.floor(clock() / 1000)
  if (!provider) return fallback
  try {
    const block = (await provider.request({ method: 'eth_getBlockByNumber', params: ['latest', false] })) as { timestamp?: unknown } | null
    const stamp = Number(BigInt(String(block?.timestamp)))
    return Number.isFinite(stamp) && stamp > 0 ? stamp : fallback
  } catch {
    return fallback
  }
}

/** Where the approval is: each step is signed in the wallet, then sent to the server. */
export type ApprovalStep = 'approve-sign' | 'approve-send' | 'write-sign' | 'write-send'

type Sign = {
  (action: 'approveRecords', params: { doctor: string; recordIds: number[]; duration: number }): Promise<SignedAction>
  (action: 'approveWrite', params: { doctor: string; duration: number }): Promise<SignedAction>
}

export interface ApprovalDeps {
  api: { access: Pick<Api['access'], 'respond' | 'grantWrite'> }
  signAction: Sign
  onStep?: (step: ApprovalStep) => void
}

export interface ApprovalInput {
  request: Pick<AccessRequest, 'id' | 'doctor' | 'doctor_name'>
  recordIds: number[]
  days: number
  /** The patient's key signature of this session (opens their copies of the data keys). */
  keySignature: string | null
  /** Also grant write access for the same days (only offered when the request asks for it). */
  grantWrite: boolean
  /** The signed read `duration` in seconds (sharingPlan.ts: to keep a later end); days * DAY when absent. */
  duration?: number
  /** The signed write `duration` in seconds (to keep a later write end); days * DAY when absent. */
  writeDuration?: number
}

/** A write grant that was asked for and not given: enough to say so and to try again. */
export interface WriteFailure {
  doctor: string
  who: string
  days: number
  /** The write duration to sign again, in seconds (days * DAY when absent). */
  duration?: number
  error: unknown
}

export interface ApprovalOutcome {
  /** What to tell the patient (both steps). */
  message: string
  /** Set when reading was granted but writing was not. */
  writeFailure: WriteFailure | null
  /** The approval's (or denial's) transaction. */
  txHash: string | null
}

/** "Dr Ada Reader", or "the doctor 0x90F7…b906" when the doctor has no profile name. */
export function doctorTitle(name: string | null | undefined, address: string): string {
  const trimmed = name?.trim()
  if (!trimmed) return `the doctor ${shortAddress(address)}`
  return /^dr\b\.?/i.test(trimmed) ? trimmed : `Dr ${trimmed}`
}

/** Sentence-initial form of `doctorTitle`. */
const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1)

/** The line on the request card when the doctor also asks to add records. */
export function wantsWriteLine(request: Pick<AccessRequest, 'doctor' | 'doctor_name'>): string {
  return `${capitalised(doctorTitle(request.doctor_name, request.doctor))} also asks to add records to your file (prescriptions, bills, reports).`
}

/** `text` ending in a full stop (error texts come with or without one). */
const sentence = (text: string) => (/[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`)

/** What a failed write step means for the patient: reading stands, writing is not granted. */
export function writeFailureMessage(failure: Pick<WriteFailure, 'who' | 'error'>): string {
  return `Reading was granted, but ${failure.who} may not add records to your file: ${sentence(readableError(failure.error))} Try the write access again, or later from Sharing → Write access.`
}

/**
 * Step 2 alone (also the retry): sign `approveWrite` for `duration` seconds (`days` whole days unless
 * a later end is kept) and relay it, with `durationDays` when it is whole days, else `durationSeconds`.
 */
export async function grantWriteAccess(
  doctor: string,
  days: number,
  deps: ApprovalDeps,
  duration: number = days * DAY,
): Promise<Awaited<ReturnType<Api['access']['grantWrite']>>> {
  deps.onStep?.('write-sign')
  const signed = await deps.signAction('approveWrite', { doctor, duration })
  deps.onStep?.('write-send')
  return deps.api.access.grantWrite({
    doctorAddress: doctor,
    // The server checks the signed duration is exactly durationDays * 86400 (or durationSeconds).
    ...(duration === days * DAY ? { durationDays: days } : { durationSeconds: duration }),
    signature: signed.signature,
    nonce: signed.nonce,
    deadline: signed.deadline,
  })
}

/** The success line of a write grant. */
export function writeGrantedMessage(who: string, grant: Pick<PatientWriteGrant, 'expiresAt'>): string {
  return `${capitalised(who)} may add records to your file until ${formatDate(grant.expiresAt)}.`
}

/**
 * Approve the request (step 1; its failure throws: nothing was granted), then, if asked, grant
 * write access (step 2; its failure is returned in the outcome, since reading was granted).
 */
export async function approveRequest(input: ApprovalInput, deps: ApprovalDeps): Promise<ApprovalOutcome> {
  const { request, recordIds, days, keySignature, grantWrite } = input
  const duration = input.duration ?? days * DAY
  const writeDuration = input.writeDuration ?? days * DAY
  const doctor = request.doctor
  deps.onStep?.('approve-sign')
  const signed = await deps.signAction('approveRecords', { doctor, recordIds, duration })
  deps.onStep?.('approve-send')
  const answer = await deps.api.access.respond({
    requestId: request.id,
    action: 'approve',
    selectedRecords: recordIds,
    durationSeconds: duration,
    walletSignature: keySignature ?? undefined,
    approvalSignature: signed.signature,
    nonce: signed.nonce,
    deadline: signed.deadline,
  })
  const read =
    duration === days * DAY
      ? `Approved ${recordIds.length} record(s) for ${days} day(s).`
      : `Approved ${recordIds.length} record(s) until ${formatDate('expires_at' in answer ? answer.expires_at : null) || 'the later end'}.`
  const txHash = answer.tx_hash ?? null
  if (!grantWrite) return { message: read, writeFailure: null, txHash }
  const who = doctorTitle(request.doctor_name, doctor)
  try {
    const grant = await grantWriteAccess(doctor, days, deps, writeDuration)
    return { message: `${read} ${writeGrantedMessage(who, grant)}`, writeFailure: null, txHash }
  } catch (error) {
    return { message: read, writeFailure: { doctor, who, days, duration: writeDuration, error }, txHash }
  }
}
