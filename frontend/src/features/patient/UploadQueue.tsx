/**
 * The patient's uploads, kept above the tabs (App wraps the workspace in `UploadProvider`), so an
 * upload keeps running and keeps showing its progress when the patient looks at another tab and
 * comes back; the page warns before it is closed or reloaded while one runs.
 *
 * Files upload one after another, one signature each, in nonce order: the AddRecord payload of file
 * 2 is asked for only once file 1 is on chain (the typed-data endpoint hands out the vault's current
 * nonce, which moves when a record lands). Each file is fingerprinted on this device when it is added
 * (content hash SHA-256(salt ‖ file) and, once the key signature is there, the duplicate tag), and a
 * file whose tag matches one of the patient's records, or another file in the list, is held back
 * until the patient says to upload it again.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useReducer, useRef, useState, type ReactNode } from 'react'
import { usePatientRecords, useInvalidate } from '../../api/queries'
import { isOnChain, type MedicalRecord, type PatientRecord, type RecordType } from '../../api/types'
import { IDLE, isRunning, nextChainState, type ChainEvent, type ChainState } from '../../components/progress/chainStage'
import { followConfirmations } from '../../components/progress/confirmations'
import { addSample, rateOf, secondsLeft, type Sample } from '../../components/progress/transferRate'
import { hashFile } from '../../lib/hashFile'
import { duplicateTagKey } from '../../lib/uploadHashes'
import { useSession } from '../../session/SessionContext'
import { defaultRecordName, suggestRecordType } from '../../components/recordForm/suggest'

export interface Transfer {
  phase: 'uploading' | 'processing'
  loaded: number
  total: number
  rate: number | null
  secondsLeft: number | null
}

export interface UploadItem {
  id: number
  file: File
  name: string
  recordType: RecordType
  hashing: { done: number; total: number } | null
  contentHash: `0x${string}` | null
  salt: `0x${string}` | null
  duplicateTag: `0x${string}` | null
  hashError: unknown
  /** The patient said to upload it although it looks like one uploaded before. */
  allowDuplicate: boolean
  chain: ChainState
  transfer: Transfer | null
  record: MedicalRecord | null
}

/** What a duplicate matches: one of the patient's records, or a file earlier in this list. */
export type Duplicate = { kind: 'record'; record: PatientRecord } | { kind: 'queued'; item: UploadItem }

type Action =
  | { type: 'add'; files: File[]; replace: boolean }
  | { type: 'remove'; id: number }
  | { type: 'edit'; id: number; changes: Partial<Pick<UploadItem, 'name' | 'recordType' | 'allowDuplicate'>> }
  | { type: 'hashing'; id: number; done: number; total: number }
  | { type: 'hashed'; id: number; contentHash: `0x${string}`; salt: `0x${string}`; duplicateTag: `0x${string}` | null }
  | { type: 'hashFailed'; id: number; error: unknown }
  | { type: 'chain'; id: number; event: ChainEvent }
  | { type: 'transfer'; id: number; transfer: Transfer | null }
  | { type: 'record'; id: number; record: MedicalRecord }
  | { type: 'clear' }

let nextId = 1

function newItem(file: File): UploadItem {
  return {
    id: nextId++,
    file,
    name: defaultRecordName(file.name),
    recordType: suggestRecordType(file.name),
    hashing: null,
    contentHash: null,
    salt: null,
    duplicateTag: null,
    hashError: null,
    allowDuplicate: false,
    chain: IDLE,
    transfer: null,
    record: null,
  }
}

const update = (items: UploadItem[], id: number, change: (item: UploadItem) => UploadItem) => items.map((i) => (i.id === id ? change(i) : i))

function reducer(items: UploadItem[], action: Action): UploadItem[] {
  switch (action.type) {
    case 'add': {
      // Choosing files replaces what was waiting (as the single-file form did); running uploads stay.
      const kept = action.replace ? items.filter((i) => isRunning(i.chain.stage)) : items
      return [...kept, ...action.files.map(newItem)]
    }
    case 'remove':
      return items.filter((i) => i.id !== action.id || isRunning(i.chain.stage))
    case 'edit':
      return update(items, action.id, (i) => (isRunning(i.chain.stage) ? i : { ...i, ...action.changes }))
    case 'hashing':
      return update(items, action.id, (i) => ({ ...i, hashing: { done: action.done, total: action.total }, hashError: null }))
    case 'hashed':
      return update(items, action.id, (i) => ({
        ...i,
        hashing: null,
        contentHash: action.contentHash,
        salt: action.salt,
        duplicateTag: action.duplicateTag,
      }))
    case 'hashFailed':
      return update(items, action.id, (i) => ({ ...i, hashing: null, hashError: action.error }))
    case 'chain':
      return update(items, action.id, (i) => ({ ...i, chain: nextChainState(i.chain, action.event) }))
    case 'transfer':
      return update(items, action.id, (i) => ({ ...i, transfer: action.transfer }))
    case 'record':
      return update(items, action.id, (i) => ({ ...i, record: action.record }))
    case 'clear':
      return items.filter((i) => isRunning(i.chain.stage))
  }
}

/** The record or earlier list entry `item` repeats (same duplicate tag), if any. */
export function duplicateOf(item: UploadItem, records: readonly PatientRecord[] | undefined, items: readonly UploadItem[]): Duplicate | null {
  const tag = item.duplicateTag
  if (!tag) return null
  const own = item.record?.cid
  const record = records?.find((r) => r.duplicate_tag === tag && r.cid !== own)
  if (record) return { kind: 'record', record }
  const earlier = items.find((other) => other.id !== item.id && other.id < item.id && other.duplicateTag === tag && other.chain.stage !== 'done')
  return earlier ? { kind: 'queued', item: earlier } : null
}

/** Ready to sign: fingerprinted (with its tag), named, not done, not running, not an unconfirmed duplicate. */
export function isReady(item: UploadItem, duplicate: Duplicate | null, needTag: boolean): boolean {
  return (
    item.contentHash !== null &&
    item.salt !== null &&
    item.hashing === null &&
    (!needTag || item.duplicateTag !== null) &&
    item.name.trim().length > 0 &&
    item.chain.stage !== 'done' &&
    !isRunning(item.chain.stage) &&
    (duplicate === null || item.allowDuplicate)
  )
}

export interface UploadQueue {
  items: UploadItem[]
  duplicates: Map<number, Duplicate | null>
  ready: UploadItem[]
  running: UploadItem | null
  /** Which file of the current batch is running ("file 2 of 3"); null when idle. */
  batch: { index: number; total: number } | null
  add(files: File[], options?: { replace?: boolean }): void
  remove(id: number): void
  edit(id: number, changes: Partial<Pick<UploadItem, 'name' | 'recordType' | 'allowDuplicate'>>): void
  clearFinished(): void
  /** Sign and upload every ready file, one after another. */
  start(): Promise<void>
  cancel(): void
}

const UploadContext = createContext<UploadQueue | null>(null)

const ON_CHAIN_POLL_MS = 2000
const ON_CHAIN_TIMEOUT_MS = 10 * 60_000

export function UploadProvider({ children }: { children: ReactNode }) {
  const { api, session, keySignature, signAction } = useSession()
  const invalidate = useInvalidate()
  const isPatient = session?.role === 'patient'
  const [batch, setBatch] = useState<{ index: number; total: number } | null>(null)
  const records = usePatientRecords({ enabled: isPatient })
  const [items, dispatch] = useReducer(reducer, [])
  const itemsRef = useRef(items)
  itemsRef.current = items
  const aborts = useRef(new Map<number, AbortController>())
  const hashingId = useRef<number | null>(null)
  // Bumped when a fingerprint finishes, so the effect below picks the next file.
  const [hashTick, hashed] = useReducer((n: number) => n + 1, 0)
  const runningRef = useRef(false)
  const cancelled = useRef(false)

  const tagKey = useMemo(() => (keySignature ? duplicateTagKey(keySignature) : null), [keySignature])

  // Fingerprint one file at a time (a worker each): new files first, then files fingerprinted
  // before the key signature was there (again, now with their duplicate tag; nothing was signed yet).
  useEffect(() => {
    if (hashingId.current !== null) return
    const next =
      items.find((i) => i.contentHash === null && i.hashError === null && i.hashing === null) ??
      (tagKey ? items.find((i) => i.contentHash !== null && i.duplicateTag === null && i.hashing === null && !isRunning(i.chain.stage) && i.chain.stage !== 'done') : undefined)
    if (!next) return
    hashingId.current = next.id
    const controller = new AbortController()
    aborts.current.set(next.id, controller)
    dispatch({ type: 'hashing', id: next.id, done: 0, total: next.file.size })
    hashFile(next.file, (done, total) => dispatch({ type: 'hashing', id: next.id, done, total }), controller.signal, tagKey)
      .then(
        ({ contentHash, salt, duplicateTag }) => dispatch({ type: 'hashed', id: next.id, contentHash, salt, duplicateTag }),
        (error) => dispatch(controller.signal.aborted ? { type: 'remove', id: next.id } : { type: 'hashFailed', id: next.id, error }),
      )
      .finally(() => {
        aborts.current.delete(next.id)
        hashingId.current = null
        hashed()
      })
  }, [items, tagKey, hashTick])

  const duplicates = useMemo(() => new Map(items.map((i) => [i.id, duplicateOf(i, records.data, items)])), [items, records.data])
  const ready = items.filter((i) => isReady(i, duplicates.get(i.id) ?? null, tagKey !== null))
  const running = items.find((i) => isRunning(i.chain.stage)) ?? null

  // Leaving the page would cut the upload off (the browser would ask "Leave site?").
  const busy = running !== null
  useEffect(() => {
    if (!busy) return
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault()
      event.returnValue = ''
    }
    window.addEventListener('beforeunload', warn)
    return () => window.removeEventListener('beforeunload', warn)
  }, [busy])

  // Signing out ends the session's uploads' screen state; a running upload finishes on the server.
  useEffect(() => {
    if (!session) dispatch({ type: 'clear' })
  }, [session])

  const waitOnChain = useCallback(
    async (cid: string, signal: AbortSignal): Promise<MedicalRecord | null> => {
      const until = Date.now() + ON_CHAIN_TIMEOUT_MS
      while (Date.now() < until && !signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, ON_CHAIN_POLL_MS))
        const found = (await api.records.patientRecords().catch(() => [])).find((r) => r.cid === cid)
        if (found && isOnChain(found)) return found
      }
      return null
    },
    [api],
  )

  const uploadOne = useCallback(
    async (item: UploadItem): Promise<boolean> => {
      const send = (event: ChainEvent) => dispatch({ type: 'chain', id: item.id, event })
      if (!keySignature || !item.contentHash || !item.salt) return false
      send({ type: 'start', key: String(item.id) })
      const controller = new AbortController()
      aborts.current.set(item.id, controller)
      let samples: Sample[] = []
      try {
        const signed = await signAction('addRecord', { recordType: item.recordType, contentHash: item.contentHash })
        send({ type: 'signed' })
        const { status, body } = await api.records.upload(
          {
            file: item.file,
            fileName: item.file.name,
            recordType: item.recordType,
            name: item.name.trim(),
            walletSignature: keySignature,
            recordSignature: signed.signature,
            nonce: signed.nonce,
            deadline: signed.deadline,
            salt: item.salt,
            duplicateTag: item.duplicateTag,
          },
          (p) => {
            if (p.phase === 'processing') {
              dispatch({ type: 'transfer', id: item.id, transfer: { phase: 'processing', loaded: p.total, total: p.total, rate: null, secondsLeft: null } })
              return
            }
            samples = addSample(samples, { at: performance.now(), loaded: p.loaded })
            const rate = rateOf(samples)
            dispatch({ type: 'transfer', id: item.id, transfer: { phase: 'uploading', loaded: p.loaded, total: p.total, rate, secondsLeft: secondsLeft(p.loaded, p.total, rate) } })
          },
          controller.signal,
        )
        dispatch({ type: 'record', id: item.id, record: body })
        dispatch({ type: 'transfer', id: item.id, transfer: null })
        let record: MedicalRecord | null = body
        if (status === 202 || !isOnChain(body)) {
          // Sent, not mined yet: the next file's signature needs this one's nonce used up first.
          send({ type: 'confirming', txHash: body.tx_hash })
          record = await waitOnChain(body.cid, controller.signal)
          if (!record) throw new Error('The transaction is sent but not mined yet. The record shows in My records when it is; upload the other files then.')
          dispatch({ type: 'record', id: item.id, record })
        }
        // Mined: count the blocks on top until the server calls it confirmed ("Confirming (n of m)").
        const txHash = record.tx_hash
        const confirmations = txHash
          ? await followConfirmations(api.system.transaction, txHash, (count) => send({ type: 'confirming', txHash, confirmations: count }), {
              signal: controller.signal,
            })
          : null
        send({ type: 'done', txHash, confirmations })
        void invalidate('records', 'patientAudit')
        return true
      } catch (error) {
        dispatch({ type: 'transfer', id: item.id, transfer: null })
        send({ type: 'failed', error })
        return false
      } finally {
        aborts.current.delete(item.id)
      }
    },
    [api, keySignature, signAction, invalidate, waitOnChain],
  )

  const start = useCallback(async () => {
    if (runningRef.current) return
    runningRef.current = true
    cancelled.current = false
    try {
      // One at a time, re-reading the list after each: files added or edited meanwhile are picked up.
      const done = new Set<number>()
      for (;;) {
        if (cancelled.current) break
        const current = itemsRef.current
        const next = current.find((i) => !done.has(i.id) && isReady(i, duplicateOf(i, records.data, current), tagKey !== null))
        if (!next) break
        const waitingToo = current.filter((i) => i.id !== next.id && !done.has(i.id) && isReady(i, duplicateOf(i, records.data, current), tagKey !== null))
        setBatch({ index: done.size, total: done.size + 1 + waitingToo.length })
        done.add(next.id)
        if (!(await uploadOne(next))) break // a refusal or failure stops the batch: the rest wait for the patient
      }
    } finally {
      runningRef.current = false
      setBatch(null)
    }
  }, [uploadOne, records.data, tagKey])

  const cancel = useCallback(() => {
    cancelled.current = true
    const current = itemsRef.current.find((i) => isRunning(i.chain.stage))
    if (current) aborts.current.get(current.id)?.abort()
  }, [])

  const value = useMemo<UploadQueue>(
    () => ({
      items,
      duplicates,
      ready,
      running,
      batch,
      add: (files, options) => {
        if (options?.replace) {
          // Stop fingerprinting the files this selection replaces.
          for (const item of itemsRef.current) if (!isRunning(item.chain.stage)) aborts.current.get(item.id)?.abort()
        }
        dispatch({ type: 'add', files, replace: options?.replace ?? false })
      },
      remove: (id) => {
        aborts.current.get(id)?.abort()
        dispatch({ type: 'remove', id })
      },
      edit: (id, changes) => dispatch({ type: 'edit', id, changes }),
      clearFinished: () => dispatch({ type: 'clear' }),
      start,
      cancel,
    }),
    [items, duplicates, ready, running, batch, start, cancel],
  )
  return <UploadContext.Provider value={value}>{children}</UploadContext.Provider>
}

export function useUploadQueue(): UploadQueue {
  const value = useContext(UploadContext)
  if (!value) throw new Error('useUploadQueue must be used inside <UploadProvider>')
  return value
}
