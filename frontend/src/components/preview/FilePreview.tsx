/**
 * The preview of an opened record, the same for patients and doctors: PDFs drawn with pdf.js, images
 * inline, structured records (FHIR JSON) as readable cards, any other type offered as a download with its name and size. It scrolls into view and
 * takes focus when it opens (the table above can be long; keyboard and screen-reader users land on
 * it), and Escape closes it. Blob URLs live only while it is shown.
 *
 * What was checked (badges, a notice) and extra actions come from the screen that opened the file.
 */
import { useEffect, useId, useRef, type ReactNode } from 'react'
import type { ViewedFile } from '../../api/types'
import { formatBytes } from '../../lib/format'
import { FhirBlobCard } from '../fhir/FhirCard'
import { PdfView } from './PdfView'
import { downloadName, mediaType, previewKind } from './previewKind'
import { useObjectUrl } from './useObjectUrl'
import './preview.css'

/** A link that saves the file under its name (with the extension its type implies); says the size. */
export function DownloadLink({ file, className }: { file: Pick<ViewedFile, 'blob' | 'filename' | 'contentType'>; className?: string }) {
  const url = useObjectUrl(file.blob)
  const name = downloadName(file.filename, file.contentType)
  return (
    <a className={className} href={url ?? undefined} download={name} aria-disabled={url ? undefined : true}>
      Download {name} ({formatBytes(file.blob.size)})
    </a>
  )
}

function ImageView({ blob, title }: { blob: Blob; title: string }) {
  const url = useObjectUrl(blob)
  if (!url) return null
  return <img className="preview-image" src={url} alt={title} />
}

function isEditable(element: Element | null): boolean {
  if (!element) return false
  const tag = element.tagName
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (element as HTMLElement).isContentEditable
}

/** Escape closes the preview, unless someone is typing in a field elsewhere on the page. */
function useEscapeToClose(ref: React.RefObject<HTMLElement | null>, onClose: () => void) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape' || event.defaultPrevented) return
      const active = document.activeElement
      if (ref.current?.contains(active) || !isEditable(active)) onClose()
    }
    document.addEventListener('keydown', onKey)
    return () => document.removeEventListener('keydown', onKey)
  }, [ref, onClose])
}

export function FilePreview({
  title,
  file,
  byline,
  details,
  actions,
  showDownload = true,
  onClose,
}: {
  title: string
  file: ViewedFile
  /** Under the title, e.g. "added by Dr Ben Writer". */
  byline?: ReactNode
  /** What was verified (badges or a notice). */
  details?: ReactNode
  /** Extra buttons next to the download link. */
  actions?: ReactNode
  /** False when `details` carries its own download link. */
  showDownload?: boolean
  onClose: () => void
}) {
  const ref = useRef<HTMLElement>(null)
  const headingId = useId()
  const kind = previewKind(file.contentType, file.filename)

  // Each newly opened file brings the preview into view and moves focus onto it.
  useEffect(() => {
    const element = ref.current
    if (!element) return
    element.focus({ preventScroll: true })
    const reduce = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches
    element.scrollIntoView({ block: 'start', behavior: reduce ? 'auto' : 'smooth' })
  }, [file])
  useEscapeToClose(ref, onClose)

  return (
    <section className="card preview file-preview" aria-labelledby={headingId} ref={ref} tabIndex={-1} data-preview-kind={kind}>
      <div className="row between">
        <h3 id={headingId}>{title}</h3>
        {byline && <span className="muted">{byline}</span>}
        <button type="button" className="btn btn-secondary" onClick={onClose} aria-keyshortcuts="Escape">
          Close
        </button>
      </div>
      {details}
      {(actions || (showDownload && kind !== 'download')) && (
        <p className="preview-actions">
          {showDownload && kind !== 'download' && <DownloadLink file={file} className="btn btn-primary" />} {actions}
        </p>
      )}
      <div className="preview-content">
        {kind === 'pdf' && <PdfView blob={file.blob} title={title} />}
        {kind === 'image' && <ImageView blob={file.blob} title={title} />}
        {kind === 'fhir' && <FhirBlobCard blob={file.blob} />}
        {kind === 'download' && (
          <p className="preview-download">
            There is no preview for this kind of file ({mediaType(file.contentType) || 'unknown type'}).{' '}
            <DownloadLink file={file} className="btn btn-primary" />
          </p>
        )}
      </div>
    </section>
  )
}
