import { describe, expect, it } from 'vitest'
import { clampPage, downloadName, fitScale, mediaType, previewKind } from './previewKind'

describe('previewKind', () => {
  it('renders PDFs with pdf.js, whatever the case or parameters of the type', () => {
    expect(previewKind('application/pdf', 'report.pdf')).toBe('pdf')
    expect(previewKind('Application/PDF; name="x.pdf"', 'x')).toBe('pdf')
    expect(previewKind('application/x-pdf', 'scan')).toBe('pdf')
  })

  it('shows the raster images browsers decode inline', () => {
    for (const type of ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp']) expect(previewKind(type, 'a')).toBe('image')
  })

  it('shows structured records (FHIR JSON) as cards, with any parameters', () => {
    expect(previewKind('application/fhir+json', 'Amoxicillin')).toBe('fhir')
    expect(previewKind('Application/FHIR+JSON; fhirVersion=4.0', 'x')).toBe('fhir')
    expect(downloadName('Amoxicillin', 'application/fhir+json')).toBe('Amoxicillin.json')
  })

  it('offers everything else as a download: text, HTML, SVG, TIFF, Office files', () => {
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'text/html', 'image/svg+xml', 'image/tiff', 'application/msword', 'application/json'])
      expect(previewKind(type, 'notes.pdf')).toBe('download')
  })

  it('lets the file name decide only when the type is generic or missing', () => {
    expect(previewKind('application/octet-stream', 'Scan.PDF')).toBe('pdf')
    expect(previewKind('', 'xray.jpeg')).toBe('image')
    expect(previewKind(null, 'photo.png')).toBe('image')
    expect(previewKind(undefined, 'notes.txt')).toBe('download')
    expect(previewKind('application/octet-stream', 'pdf')).toBe('download') // a name, not an extension
    expect(previewKind('application/octet-stream', null)).toBe('download')
    expect(previewKind('text/plain', 'report.pdf')).toBe('download') // a stated type wins over the name
  })

  it('strips parameters and case from media types', () => {
    expect(mediaType(' Image/PNG ; q=1')).toBe('image/png')
    expect(mediaType(null)).toBe('')
  })
})

describe('page geometry', () => {
  it('fits a page to the width available, within 0.25x..2x', () => {
    expect(fitScale(612, 918)).toBeCloseTo(1.5)
    expect(fitScale(612, 10_000)).toBe(2)
    expect(fitScale(612, 10)).toBe(0.25)
    expect(fitScale(0, 800)).toBe(1)
    expect(fitScale(612, 0)).toBe(1)
  })

  it('keeps next/previous within the document', () => {
    expect(clampPage(1, -1, 3)).toBe(1)
    expect(clampPage(1, 1, 3)).toBe(2)
    expect(clampPage(3, 1, 3)).toBe(3)
    expect(clampPage(2, 0, 0)).toBe(1)
  })
})

describe('downloadName', () => {
  it('adds the extension the type implies when the record name lacks it', () => {
    expect(downloadName('Discharge letter', 'application/pdf')).toBe('Discharge letter.pdf')
    expect(downloadName('Diet notes 17', 'text/plain; charset=utf-8')).toBe('Diet notes 17.txt')
    expect(downloadName('Dr. Lopez v1.5', 'application/pdf')).toBe('Dr. Lopez v1.5.pdf')
  })

  it('keeps a name that already ends with a matching extension, or whose type it does not know', () => {
    expect(downloadName('xray.JPEG', 'image/jpeg')).toBe('xray.JPEG')
    expect(downloadName('scan.pdf', 'application/pdf')).toBe('scan.pdf')
    expect(downloadName('archive', 'application/x-unknown')).toBe('archive')
    expect(downloadName('  ', 'application/octet-stream')).toBe('record')
  })
})
