/**
 * Upload speed and time left from XMLHttpRequest progress events: the rate over a sliding window of
 * recent samples (the last few seconds), so a burst at the start (the browser filling its socket
 * buffer) or a stall does not swing the estimate for the whole upload, and the time left is what
 * remains at that rate.
 */
export interface Sample {
  /** ms (performance.now() or Date.now()) */
  at: number
  /** bytes sent so far */
  loaded: number
}

/** How far back the rate looks. */
export const RATE_WINDOW_MS = 3000
/** Below this span between the oldest and newest sample, no rate is given (it would be noise). */
export const MIN_SPAN_MS = 250

/** `samples` with `sample` added and those older than the window dropped (the one just before it is kept as the baseline). */
export function addSample(samples: readonly Sample[], sample: Sample, windowMs = RATE_WINDOW_MS): Sample[] {
  const last = samples[samples.length - 1]
  // A restart (a retried request) or a clock step back begins a new series.
  if (last && (sample.loaded < last.loaded || sample.at < last.at)) return [sample]
  const all = [...samples, sample]
  let first = 0
  while (first < all.length - 2 && all[first + 1].at <= sample.at - windowMs) first++
  return all.slice(first)
}

/** Bytes per second over the samples, or null when they span too little time. */
export function rateOf(samples: readonly Sample[]): number | null {
  if (samples.length < 2) return null
  const first = samples[0]
  const last = samples[samples.length - 1]
  const span = last.at - first.at
  if (span < MIN_SPAN_MS) return null
  return ((last.loaded - first.loaded) * 1000) / span
}

/** Seconds left at `rate` bytes/s, or null when unknown (no rate yet, or nothing moving). */
export function secondsLeft(loaded: number, total: number, rate: number | null): number | null {
  if (rate === null || !(rate > 0) || !(total > 0)) return null
  return Math.max(0, (total - loaded) / rate)
}

/** "3.4 MB/s" (decimal megabytes, as network speeds are quoted). */
export function formatRate(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null || !Number.isFinite(bytesPerSecond)) return ''
  const mb = bytesPerSecond / 1_000_000
  return `${mb >= 10 ? mb.toFixed(0) : mb >= 0.1 ? mb.toFixed(1) : mb.toFixed(2)} MB/s`
}

/** "12 s left", "3 min 5 s left", "about 1 h 20 min left"; '' when unknown. */
export function formatTimeLeft(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return ''
  const s = Math.ceil(seconds)
  if (s < 60) return `${s} s left`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s left`
  return `about ${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min left`
}
