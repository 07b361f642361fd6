/**
 * pdf.js's own data files, served from this app: the 14 standard fonts (for PDFs that name Helvetica
 * or Times without embedding them), the Adobe CMaps (for CJK text in fonts that are not embedded)
 * and its WebAssembly decoders (JPEG 2000, JBIG2 scans). pdf.js would fetch them from URLs we give
 * it; Vite instead emits each file as a hashed asset (never inlined as `data:`, which the page's CSP
 * blocks for fetches), and this factory maps the file pdf.js asks for to that asset. Imported only
 * with pdf.js, so the URL table stays out of the main bundle.
 */
const glob = (files: Record<string, string>) =>
  new Map(Object.entries(files).map(([path, url]) => [path.slice(path.lastIndexOf('/') + 1), url]))

const FILES = {
  standardFontDataUrl: glob(
    import.meta.glob<string>('/node_modules/pdfjs-dist/standard_fonts/*.{pfb,ttf}', { query: '?url&no-inline', import: 'default', eager: true }),
  ),
  cMapUrl: glob(import.meta.glob<string>('/node_modules/pdfjs-dist/cmaps/*.bcmap', { query: '?url&no-inline', import: 'default', eager: true })),
  wasmUrl: glob(import.meta.glob<string>('/node_modules/pdfjs-dist/wasm/*.wasm', { query: '?url&no-inline', import: 'default', eager: true })),
} as const

type Kind = keyof typeof FILES

/**
 * pdf.js's `BinaryDataFactory` option (with `useWorkerFetch: false` the worker asks the page for each
 * file by kind and name): the same `fetch({ kind, filename })` as its DOM factory, from the bundle.
 */
export class BundledDataFactory {
  async fetch({ kind, filename }: { kind: string; filename: string }): Promise<Uint8Array> {
    const asset = FILES[kind as Kind]?.get(filename)
    if (!asset) throw new Error(`pdf.js asked for ${kind} ${filename}, which is not bundled`)
    const response = await fetch(asset)
    if (!response.ok) throw new Error(`${asset}: HTTP ${response.status}`)
    return new Uint8Array(await response.arrayBuffer())
  }
}

/** getDocument options that route pdf.js's data files through BundledDataFactory (the URLs only need to be set). */
export const BUNDLED_DATA = {
  BinaryDataFactory: BundledDataFactory,
  useWorkerFetch: false,
  cMapUrl: 'bundled/cmaps/',
  cMapPacked: true,
  standardFontDataUrl: 'bundled/standard_fonts/',
  wasmUrl: 'bundled/wasm/',
  // The bundled standard fonts rather than whatever the machine has: the same page on every screen.
  useSystemFonts: false,
} as const
