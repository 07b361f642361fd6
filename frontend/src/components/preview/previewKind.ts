/**
 * How an opened record is shown, from its stored Content-Type (and its file name when the type says
 * nothing, e.g. `application/octet-stream` from a browser that did not recognise the file).
 *
 * - `pdf`: drawn page by page with pdf.js onto canvases (never the browser's own viewer, which a
 *   sandboxed frame blocks and an unsandboxed one would let run the document's scripts);
 * - `image`: an `<img>` from a blob URL, for the raster formats every browser decodes (no SVG: its
 *   type is an XML document, offered as a download like any other);
 * - `fhir`: a structured record (`application/fhir+json`), shown as a readable card (FhirCard);
 * - `download`: anything else, offered as a download with its name and size.
 */

export type PreviewKind = 'pdf' | 'image' | 'fhir' | 'download'

const PDF_TYPES = new Set(['application/pdf', 'application/x-pdf'])
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/pjpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp'])
/** Types that say nothing about the content: the file name's extension decides then. */
const GENERIC_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream', 'application/unknown'])
const IMAGE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'gif', 'webp', 'avif', 'bmp'])

/** The media type without parameters, lower-cased: `"Application/PDF; name=x"` -> `"application/pdf"`. */
export function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase()
}

function extension(filename: string | null | undefined): string {
  const name = (filename ?? '').trim().toLowerCase()
  const dot = name.lastIndexOf('.')
  return dot > 0 ? name.slice(dot + 1) : ''
}

export function previewKind(contentType: string | null | undefined, filename?: string | null): PreviewKind {
  const type = mediaType(contentType)
  if (PDF_TYPES.has(type)) return 'pdf'
  if (IMAGE_TYPES.has(type)) return 'image'
  if (type === 'application/fhir+json') return 'fhir'
  if (GENERIC_TYPES.has(type)) {
    const ext = extension(filename)
    if (ext === 'pdf') return 'pdf'
    if (IMAGE_EXTENSIONS.has(ext)) return 'image'
  }
  return 'download'
}

/** The scale that fits a page `pageWidth` CSS pixels wide into `available` pixels (at most 2x, at least 0.25x). */
export function fitScale(pageWidth: number, available: number): number {
  if (!(pageWidth > 0) || !(available > 0)) return 1
  return Math.min(2, Math.max(0.25, available / pageWidth))
}

/** The page to show after a step of `delta` from `page`, kept within 1..`count`. */
export function clampPage(page: number, delta: number, count: number): number {
  if (!(count >= 1)) return 1
  return Math.min(count, Math.max(1, Math.trunc(page) + delta))
}

/** The usual file extension of the media types people store, for names saved without one. */
const EXTENSIONS: Record<string, string[]> = {
  'application/pdf': ['pdf'],
  'image/png': ['png'],
  'image/jpeg': ['jpg', 'jpeg'],
  'image/gif': ['gif'],
  'image/webp': ['webp'],
  'image/avif': ['avif'],
  'image/bmp': ['bmp'],
  'image/tiff': ['tif', 'tiff'],
  'image/svg+xml': ['svg'],
  'text/plain': ['txt'],
  'text/csv': ['csv'],
  'application/json': ['json'],
  'application/fhir+json': ['json'],
  'application/xml': ['xml'],
  'text/xml': ['xml'],
  'application/dicom': ['dcm'],
  'application/zip': ['zip'],
  'application/msword': ['doc'],
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': ['docx'],
}

/**
 * The name to save a download under: the server names files after the record ("Discharge letter"),
 * so add the extension its type implies when the name does not already end with it; a file saved
 * without one would not open with a double click.
 */
export function downloadName(filename: string, contentType: string | null | undefined): string {
  const known = EXTENSIONS[mediaType(contentType)]
  const name = filename.trim() || 'record'
  if (!known || known.includes(extension(name))) return name
  return `${name}.${known[0]}`
}
