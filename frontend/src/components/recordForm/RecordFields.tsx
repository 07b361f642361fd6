/**
 * The record form fields both uploads share (the patient's Upload, the doctor's "Add a record"): the
 * type selector, the name, the file input and the limits stated before a file is picked, and a hook
 * that keeps one record's fields with the type suggested from the file. One place, so the two forms
 * cannot drift apart in wording, limits or suggestions.
 */
import { useCallback, useState, type Ref } from 'react'
import { RECORD_TYPES, type RecordType } from '../../api/types'
import { RECORD_TYPE_LABELS } from '../../lib/format'
import { fieldsForFile, limitText, PREVIEW_TYPES_TEXT } from './suggest'

/** "Up to 50.0 MiB per file. PDF, PNG and JPEG open in the app; …" */
export function FileLimitsText({ maxBytes }: { maxBytes: number | null | undefined }) {
  const limit = limitText(maxBytes)
  return (
    <>
      {limit}
      {limit ? ' ' : ''}
      {PREVIEW_TYPES_TEXT}.
    </>
  )
}

/** The record type; `of` names the file for screen readers when several forms share a page. */
export function RecordTypeField({ value, onChange, disabled, of }: { value: RecordType; onChange: (type: RecordType) => void; disabled?: boolean; of?: string }) {
  return (
    <label className="field">
      <span>
        Type{of && <span className="visually-hidden"> of {of}</span>}
      </span>
      <select value={value} disabled={disabled} onChange={(e) => onChange(e.target.value as RecordType)}>
        {RECORD_TYPES.map((type) => (
          <option key={type} value={type}>
            {RECORD_TYPE_LABELS[type]}
          </option>
        ))}
      </select>
    </label>
  )
}

/** The record's name (what the patient and the doctors they share it with see). */
export function RecordNameField({
  value,
  onChange,
  disabled,
  of,
  placeholder = 'e.g. Blood test, March',
  hint,
}: {
  value: string
  onChange: (name: string) => void
  disabled?: boolean
  of?: string
  placeholder?: string
  hint?: string
}) {
  return (
    <label className="field">
      <span>
        Name{of && <span className="visually-hidden"> of {of}</span>}
      </span>
      <input type="text" value={value} maxLength={200} disabled={disabled} onChange={(e) => onChange(e.target.value)} placeholder={placeholder} />
      {hint && <span className="hint">{hint}</span>}
    </label>
  )
}

/** The file input ("File"); `onFiles` gets the picked files (one unless `multiple`). */
export function RecordFileInput({ onFiles, multiple, inputRef, clearAfterPick }: { onFiles: (files: File[]) => void; multiple?: boolean; inputRef?: Ref<HTMLInputElement>; clearAfterPick?: boolean }) {
  return (
    <label className="field">
      <span>File</span>
      <input
        ref={inputRef}
        type="file"
        multiple={multiple}
        onChange={(e) => {
          const files = e.target.files ? Array.from(e.target.files) : []
          onFiles(files)
          if (clearAfterPick) e.target.value = ''
        }}
      />
    </label>
  )
}

export interface RecordFields {
  file: File | null
  recordType: RecordType
  name: string
  /** A picked file: the type is suggested from its name unless chosen already, the name filled unless typed. */
  pick(file: File | null): void
  setRecordType(type: RecordType): void
  setName(name: string): void
  reset(): void
}

/** One record's fields (the doctor's form; the patient's queue keeps one set per file, with the same suggestion). */
export function useRecordFields(initialType: RecordType = 'report'): RecordFields {
  const [state, setState] = useState({ file: null as File | null, recordType: initialType, typeChosen: false, name: '' })
  const pick = useCallback(
    (file: File | null) => setState((s) => (file ? { ...s, file, ...fieldsForFile(file.name, s) } : { ...s, file: null })),
    [],
  )
  const setRecordType = useCallback((recordType: RecordType) => setState((s) => ({ ...s, recordType, typeChosen: true })), [])
  const setName = useCallback((name: string) => setState((s) => ({ ...s, name })), [])
  const reset = useCallback(() => setState({ file: null, recordType: initialType, typeChosen: false, name: '' }), [initialType])
  return { file: state.file, recordType: state.recordType, name: state.name, pick, setRecordType, setName, reset }
}
