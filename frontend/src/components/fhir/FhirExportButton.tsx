/** "Export (FHIR)": every record a reader may open in one vault, as one FHIR R4 Bundle file. */
import { useMutation } from '@tanstack/react-query'
import { saveBlob } from '../../lib/download'
import { useSession } from '../../session/SessionContext'
import { ErrorNotice } from '../ui'

/** The FHIR file every patient can take to another health system: all their verified records as one Bundle. */
export const EXPORT_FILE_NAME = 'healthledger-bundle.json'

/** A doctor's export of what one patient shares: named after the patient, so several patients' files do not clash. */
export function sharedExportFileName(patient: string): string {
  return `healthledger-shared-${patient.toLowerCase().slice(0, 10)}.json`
}

type Props = {
  /** Saved under this name. */
  fileName: string
  /** Doctors: the patient whose shared records to export (the API checks the grants now). Patients: omitted. */
  patient?: string
  disabled?: boolean
  label?: string
  title: string
}

/**
 * GET /api/fhir/bundle with the reader's key signature (asked for once, as opening a record does),
 * saved as `fileName`; says how many records the file holds and which were left out (not verified yet).
 */
export function FhirExportButton({ fileName, patient, disabled = false, label = 'Export (FHIR)', title }: Props) {
  const { api, keySignature, signKeyMessage } = useSession()
  const exporting = useMutation({
    mutationFn: async () => {
      const signature = keySignature ?? (await signKeyMessage())
      const result = await api.fhir.bundle(signature, patient)
      saveBlob(result.blob, fileName)
      return result
    },
  })
  const done = exporting.data
  return (
    <>
      <button type="button" className="btn btn-secondary" onClick={() => exporting.mutate()} disabled={disabled || exporting.isPending} title={title}>
        {exporting.isPending ? 'Exporting…' : label}
      </button>
      {done && (
        <span role="status" className="hint">
          Saved {fileName}
          {done.exported !== null ? ` (${done.exported} record${done.exported === 1 ? '' : 's'})` : ''}
          {done.skipped ? `; left out, not verified yet: ${done.skipped}` : ''}.
        </span>
      )}
      <ErrorNotice error={exporting.error} title="Could not export the records" />
    </>
  )
}
