/** Sending batches at a fixed concurrency, and summarising latencies. */

export interface LoadResult {
  /** One per batch, in completion order. */
  latenciesMs: number[]
  /** From the first send to the last completion. */
  wallMs: number
}

/** Sends every batch through `send`, keeping `concurrency` in flight; the first failure stops the run. */
export async function runBatches<T>(batches: T[], concurrency: number, send: (batch: T) => Promise<void>): Promise<LoadResult> {
  const latenciesMs: number[] = []
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < batches.length) {
      const batch = batches[next++] as T
      const start = performance.now()
      try {
        await send(batch)
      } catch (error) {
        failed = true
        throw error
      }
      latenciesMs.push(performance.now() - start)
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker))
  return { latenciesMs, wallMs: performance.now() - start }
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1] as number
}

export function median(samples: number[]): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

export interface LatencySummary {
  count: number
  p50: number
  p95: number
  p99: number
  min: number
  max: number
}

export function summarise(samples: number[]): LatencySummary {
  return {
    count: samples.length,
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
    min: samples.length ? Math.min(...samples) : Number.NaN,
    max: samples.length ? Math.max(...samples) : Number.NaN,
  }
}
