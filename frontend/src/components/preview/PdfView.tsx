/**
 * A PDF drawn with pdf.js, one page at a time onto a canvas fitted to the preview's width, with the
 * page count and next/previous. pdf.js and its worker are bundled by Vite and loaded only when a PDF
 * is opened (they are most of a megabyte), and so are its fonts, CMaps and decoders (pdfData.ts);
 * nothing is fetched from elsewhere (no CDN), and no `eval` runs in font code.
 */
import type { PDFDocumentProxy, RenderTask } from 'pdfjs-dist'
import { useEffect, useRef, useState } from 'react'
import { clampPage, fitScale } from './previewKind'

/** Pages are drawn at most this wide (CSS px): a letter at full desktop width is taller than any screen. */
const MAX_PAGE_WIDTH = 860

type PdfJs = { pdfjs: typeof import('pdfjs-dist'); data: typeof import('./pdfData').BUNDLED_DATA }

let pdfjsLoading: Promise<PdfJs> | null = null

/** pdf.js, imported once, with its worker pointed at the bundled file, and its bundled data files. */
function loadPdfJs(): Promise<PdfJs> {
  pdfjsLoading ??= Promise.all([import('pdfjs-dist'), import('pdfjs-dist/build/pdf.worker.min.mjs?worker&url'), import('./pdfData')]).then(
    ([pdfjs, worker, data]) => {
      pdfjs.GlobalWorkerOptions.workerSrc = worker.default
      return { pdfjs, data: data.BUNDLED_DATA }
    },
  )
  return pdfjsLoading
}

type Loaded = { state: 'loading' } | { state: 'ready'; doc: PDFDocumentProxy } | { state: 'error'; message: string }

function usePdfDocument(blob: Blob): Loaded {
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' })
  useEffect(() => {
    let cancelled = false
    let destroy: (() => Promise<void>) | null = null
    setLoaded({ state: 'loading' })
    void (async () => {
      try {
        const [{ pdfjs, data: bundled }, bytes] = await Promise.all([loadPdfJs(), blob.arrayBuffer()])
        if (cancelled) return
        const task = pdfjs.getDocument({ ...bundled, data: new Uint8Array(bytes), isEvalSupported: false, enableXfa: false, stopAtErrors: false })
        destroy = () => task.destroy()
        const doc = await task.promise
        if (!cancelled) setLoaded({ state: 'ready', doc })
      } catch (error) {
        if (!cancelled) setLoaded({ state: 'error', message: error instanceof Error ? error.message : String(error) })
      }
    })()
    return () => {
      cancelled = true
      void destroy?.()
    }
  }, [blob])
  return loaded
}

/** The width the canvas may take (the wrapper's content width), updated as the layout changes. */
function useWidth(ref: React.RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0)
  useEffect(() => {
    const element = ref.current
    if (!element) return
    const measure = () => setWidth(Math.floor(element.clientWidth))
    measure()
    const observer = new ResizeObserver(measure)
    observer.observe(element)
    return () => observer.disconnect()
  }, [ref])
  return width
}

function PdfPage({ doc, pageNumber, width, title }: { doc: PDFDocumentProxy; pageNumber: number; width: number; title: string }) {
  const canvasRef = useRef<HTMLCanvasElement>(null)
  // What the canvas shows, and for which page and width: after a page turn or a resize the canvas is
  // cleared and drawn again, and until then the old outcome must not be shown as this page's (the
  // canvas said "rendered" for page 2 while still blank from page 1's clearing).
  const [outcome, setOutcome] = useState<{ doc: PDFDocumentProxy; pageNumber: number; width: number; state: 'rendered' | 'failed' } | null>(null)
  const state = outcome && outcome.doc === doc && outcome.pageNumber === pageNumber && outcome.width === width ? outcome.state : 'rendering'
  useEffect(() => {
    const canvas = canvasRef.current
    if (!canvas || width <= 0) return
    let task: RenderTask | null = null
    let cancelled = false
    const settle = (result: 'rendered' | 'failed') => setOutcome({ doc, pageNumber, width, state: result })
    void (async () => {
      try {
        const page = await doc.getPage(pageNumber)
        if (cancelled) return
        const viewport = page.getViewport({ scale: fitScale(page.getViewport({ scale: 1 }).width, Math.min(width, MAX_PAGE_WIDTH)) })
        // Sharp on high-density screens: draw at device pixels, show at CSS pixels (height follows the aspect ratio).
        const ratio = window.devicePixelRatio || 1
        canvas.width = Math.floor(viewport.width * ratio)
        canvas.height = Math.floor(viewport.height * ratio)
        canvas.style.width = `${Math.floor(viewport.width)}px`
        task = page.render({ canvas, viewport, transform: ratio === 1 ? undefined : [ratio, 0, 0, ratio, 0, 0] })
        await task.promise
        if (!cancelled) settle('rendered')
      } catch (error) {
        // A cancelled render (page turned, preview closed) is not a failure.
        if (!cancelled && (error as { name?: string })?.name !== 'RenderingCancelledException') settle('failed')
      }
    })()
    return () => {
      cancelled = true
      task?.cancel()
    }
  }, [doc, pageNumber, width])
  return (
    <>
      <canvas
        ref={canvasRef}
        className="pdf-page"
        role="img"
        aria-label={`${title}, page ${pageNumber} of ${doc.numPages}`}
        data-page={pageNumber}
        data-rendered={state === 'rendered' ? 'true' : 'false'}
      />
      {state === 'failed' && <p className="muted">Page {pageNumber} could not be drawn; download the file to read it.</p>}
    </>
  )
}

export function PdfView({ blob, title }: { blob: Blob; title: string }) {
  const loaded = usePdfDocument(blob)
  const wrapRef = useRef<HTMLDivElement>(null)
  const width = useWidth(wrapRef)
  const [page, setPage] = useState(1)
  useEffect(() => setPage(1), [blob])

  const count = loaded.state === 'ready' ? loaded.doc.numPages : 0
  return (
    <div className="pdf-view">
      {loaded.state === 'ready' && (
        <nav className="pdf-pager" aria-label="Pages">
          <button type="button" className="btn btn-small btn-secondary" onClick={() => setPage((p) => clampPage(p, -1, count))} disabled={page <= 1}>
            ← Previous page
          </button>
          <span aria-live="polite">
            Page {page} of {count}
          </span>
          <button type="button" className="btn btn-small btn-secondary" onClick={() => setPage((p) => clampPage(p, 1, count))} disabled={page >= count}>
            Next page →
          </button>
        </nav>
      )}
      <div className="pdf-canvas-wrap" ref={wrapRef}>
        {loaded.state === 'loading' && <p className="muted">Drawing the PDF…</p>}
        {loaded.state === 'error' && <p className="muted">This PDF could not be drawn here ({loaded.message}); download it to read it.</p>}
        {loaded.state === 'ready' && <PdfPage doc={loaded.doc} pageNumber={Math.min(page, count)} width={width} title={title} />}
      </div>
    </div>
  )
}
