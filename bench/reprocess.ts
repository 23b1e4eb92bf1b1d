/**
 * `--workload reprocess` (only when named): a full reprocess of a source index of `--works`
 * generated works (default 200,000), with 1 slice and with 4, through the Step Functions path
 * (bench/reprocess-child.ts: src/lambda.ts's handler, one process per slice as one Lambda container
 * per Map iteration), beside a floor that does the same reads, SQL and bulk writes
 * (bench/reprocess-floor.ts). Both run under the Lambda runtime's node flags for a 512 MB function.
 * The source index is filled once, with bulk requests, and shared; every run mints into a fresh
 * database and a fresh identified index, so every run mints everything anew.
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { ensureIndex } from '../fixtures/indices.js'
import { makeWork } from '../fixtures/works.js'
import { buildChildren, buildDir } from './children.js'
import { migrationConnection, serviceEnvironment, storedCounts, type Stores } from './environment.js'
import { median } from './load.js'
import { lambdaRuntimeNodeFlags, type Context } from './measure.js'
import { Child, type MemoryPeaks } from './protocol.js'
import type { ReprocessChildCounters } from './reprocess-child.js'

export const DEFAULT_REPROCESS_WORKS = 200_000
export const QUICK_REPROCESS_WORKS = 20_000
/** Identifiers per generated work: the work, one item, one subject. */
const IDENTIFIERS_PER_WORK = 3
/** The Lambda memory size the children's node flags are those of: the issue's target size. */
export const REPROCESS_LAMBDA_MEMORY_MB = 512
const SLICE_COUNTS = [1, 4] as const

export interface ReprocessRun {
  side: 'service' | 'floor'
  slices: number
  iteration: number
  works: number
  wallMs: number
  worksPerSecond: number
  identifiersPerSecond: number
  /** The largest maxRSS of the run's processes (one per slice). */
  peakRssBytes: number
  memoryPeaks: MemoryPeaks
  /** CPU time of the run's processes together, per 100 works (their start-up left out). */
  cpuMsPer100: number
  sqlStatementsPer100: number
  esRequestsPer100: number
  /** Lambda invocations (service), or 1 per slice (floor). */
  calls: number
  /** 1-minute load average when the run started. */
  loadAverage: number
}

export interface ReprocessBenchResult {
  works: number
  identifiersPerWork: number
  lambdaMemoryMb: number
  fillSeconds: number
  sourceIndexBytes?: number
  runs: ReprocessRun[]
  /** Per slice count: median works/s of the service and of the floor, and their ratio. */
  summary: Array<{ slices: number; serviceWorksPerSecond: number; floorWorksPerSecond: number; ratio: number; servicePeakRssBytes: number; floorPeakRssBytes: number }>
  error?: string
}

async function buildReprocessChildren(): Promise<void> {
  await buildChildren({ 'reprocess-service': './reprocess-child.ts', 'reprocess-floor': './reprocess-floor.ts' })
}

const workValue = (i: number) => `r${String(i).padStart(8, '0')}`

/** Fills the source index with `works` works, 2,000 per bulk request, 3 requests in flight, refreshed once at the end. */
async function fillSource(ctx: Context, index: string, works: number): Promise<number> {
  const es = ctx.admin.es
  await ensureIndex(es, index, 'source')
  await es.indices.putSettings({ index, settings: { refresh_interval: '-1' } })
  const started = performance.now()
  const base = Date.UTC(2026, 4, 2)
  let next = 0
  let lastReport = started
  const worker = async () => {
    while (next < works) {
      const from = next
      next = Math.min(works, next + 2000)
      let body = ''
      for (let i = from; i < next; i++) {
        const { id, work } = makeWork({ value: workValue(i), nested: 2 })
        body += `{"index":{"_index":${JSON.stringify(index)},"_id":${JSON.stringify(id)}}}\n${JSON.stringify({ ...work, indexed_at: new Date(base + i).toISOString() })}\n`
      }
      const response = await es.bulk({ body: body as unknown as unknown[], filter_path: 'errors,items.*.error' })
      if (response.errors) throw new Error(`filling ${index}: ${JSON.stringify(response.items.find((item) => item.index?.error))}`)
      if (performance.now() - lastReport > 15_000) {
        lastReport = performance.now()
        ctx.progress(`reprocess: ${next.toLocaleString('en-GB')} of ${works.toLocaleString('en-GB')} works indexed`)
      }
    }
  }
  await Promise.all([worker(), worker(), worker()])
  await es.indices.putSettings({ index, settings: { refresh_interval: '1s' } })
  await es.indices.refresh({ index })
  const { count } = await es.count({ index })
  if (count !== works) throw new Error(`the source index holds ${count} works, not ${works}`)
  return (performance.now() - started) / 1000
}

/** A database and an identified index of the run's own, on the shared source index. */
async function runStores(ctx: Context, sourceIndex: string): Promise<Stores> {
  const tag = randomBytes(4).toString('hex')
  const stores = { database: `bench_rp_${tag}`, sourceIndex, targetIndex: `bench-rp-identified-${tag}` }
  const database = migrationConnection(stores.database)
  try {
    await Promise.all([database.applyMigrations(), ensureIndex(ctx.admin.es, stores.targetIndex, 'identified')])
  } finally {
    await database.close()
  }
  return stores
}

async function dropRunStores(ctx: Context, stores: Stores): Promise<void> {
  await ctx.admin.es.indices.delete({ index: stores.targetIndex, ignore_unavailable: true })
  await ctx.admin.sql.query(`DROP DATABASE IF EXISTS \`${stores.database}\``)
}

/** One full reprocess of the source index by one side, in `slices` slices, on fresh stores. */
async function runOnce(ctx: Context, side: 'service' | 'floor', sourceIndex: string, works: number, slices: number, iteration: number): Promise<ReprocessRun> {
  const stores = await runStores(ctx, sourceIndex)
  const env = { ...process.env, ...serviceEnvironment(stores, 'warn'), EMF_METRICS: 'false', LAMBDA_TIMEOUT_MARGIN_MS: '3000' }
  const children = Array.from({ length: slices }, (_, i) => {
    const child = new Child<{ rssBytes: number }>(`reprocess-${side}-${i}`, `${buildDir}reprocess-${side}.mjs`, {
      env,
      execArgv: lambdaRuntimeNodeFlags(REPROCESS_LAMBDA_MEMORY_MB),
      forwardOutput: ctx.verbose,
    })
    ctx.children.add(child)
    void child.exited.then(() => ctx.children.delete(child))
    return child
  })
  try {
    await Promise.all(children.map((c) => c.ready))
    // What the processes spent starting (imports, the app, migrations checked) is not the run's.
    const atStart = await Promise.all(children.map((c) => c.call<ReprocessChildCounters>('counters')))
    const loadAverage = Math.round((os.loadavg()[0] ?? 0) * 100) / 100
    const jobId = `bench-${side}-${slices}-${iteration}`
    const started = performance.now()
    let outcomes: Array<{ processed: number; calls: number }>
    if (side === 'service') {
      const cursor = await (children[0] as Child).call<string>('open', { slices, jobId })
      outcomes = await Promise.all(children.map((c, id) => c.call<{ processed: number; calls: number }>('run', { slice: { id, max: slices }, cursor, jobId })))
    } else {
      const { id: pointInTime } = await ctx.admin.es.openPointInTime({ index: sourceIndex, keep_alive: '10m' })
      outcomes = await Promise.all(children.map((c, id) => c.call<{ processed: number; calls: number }>('run', { pointInTime, slice: { id, max: slices } })))
      await ctx.admin.es.closePointInTime({ id: pointInTime })
    }
    const wallMs = performance.now() - started
    const processed = outcomes.reduce((n, o) => n + o.processed, 0)
    if (processed !== works) throw new Error(`${side}, ${slices} slices: processed ${processed} works, not ${works}`)
    const counters = await Promise.all(children.map((c) => c.close<ReprocessChildCounters>()))
    const stored = await storedCounts(ctx.admin, stores)
    if (stored.mappings !== works * IDENTIFIERS_PER_WORK || stored.documents !== works) {
      throw new Error(`${side}, ${slices} slices: stored ${stored.mappings} mappings and ${stored.documents} documents, not ${works * IDENTIFIERS_PER_WORK} and ${works}`)
    }
    const all = counters.filter((c): c is ReprocessChildCounters => c !== undefined)
    const sum = (pick: (c: ReprocessChildCounters) => number) => all.reduce((n, c) => n + pick(c), 0)
    const peak = all.reduce((best, c) => (c.maxRssBytes > best.maxRssBytes ? c : best))
    const per100 = (n: number) => Math.round((n / works) * 100 * 100) / 100
    return {
      side,
      slices,
      iteration,
      works,
      wallMs,
      worksPerSecond: (works / wallMs) * 1000,
      identifiersPerSecond: ((works * IDENTIFIERS_PER_WORK) / wallMs) * 1000,
      peakRssBytes: peak.maxRssBytes,
      memoryPeaks: peak.memoryPeaks,
      cpuMsPer100: per100(sum((c) => c.cpuMs) - atStart.reduce((n, c) => n + c.cpuMs, 0)),
      sqlStatementsPer100: per100(sum((c) => c.sqlStatements) - atStart.reduce((n, c) => n + c.sqlStatements, 0)),
      esRequestsPer100: per100(sum((c) => c.esRequests) - atStart.reduce((n, c) => n + c.esRequests, 0)),
      calls: outcomes.reduce((n, o) => n + o.calls, 0),
      loadAverage,
    }
  } finally {
    for (const child of children) child.kill()
    await dropRunStores(ctx, stores).catch(() => {})
  }
}

/** Runs the reprocess workload; the source index and every store it made are dropped before it returns. */
export async function measureReprocess(ctx: Context, works: number, iterations: number): Promise<ReprocessBenchResult> {
  const sourceIndex = `bench-rp-source-${randomBytes(4).toString('hex')}`
  const result: ReprocessBenchResult = { works, identifiersPerWork: IDENTIFIERS_PER_WORK, lambdaMemoryMb: REPROCESS_LAMBDA_MEMORY_MB, fillSeconds: 0, runs: [], summary: [] }
  try {
    await buildReprocessChildren()
    ctx.progress(`reprocess: filling ${sourceIndex} with ${works.toLocaleString('en-GB')} works (${IDENTIFIERS_PER_WORK} identifiers each) by bulk requests`)
    result.fillSeconds = await fillSource(ctx, sourceIndex, works)
    const stats = await ctx.admin.es.indices.stats({ index: sourceIndex, metric: 'store' })
    result.sourceIndexBytes = stats._all.primaries?.store?.size_in_bytes
    ctx.progress(`reprocess: source index filled in ${result.fillSeconds.toFixed(1)} s (${Math.round((result.sourceIndexBytes ?? 0) / 1024 / 1024)} MiB)`)
    for (let iteration = 1; iteration <= iterations; iteration++) {
      for (const slices of SLICE_COUNTS) {
        // Alternating which side goes first spreads any drift in the servers over both.
        const order = (iteration + slices) % 2 ? (['floor', 'service'] as const) : (['service', 'floor'] as const)
        for (const side of order) {
          ctx.progress(`reprocess: ${side}, ${slices} slice${slices === 1 ? '' : 's'}, iteration ${iteration}/${iterations} (load average ${os.loadavg()[0]?.toFixed(2)})`)
          const run = await runOnce(ctx, side, sourceIndex, works, slices, iteration)
          result.runs.push(run)
          ctx.progress(
            `reprocess: ${side}, ${slices} slice${slices === 1 ? '' : 's'}: ${Math.round(run.worksPerSecond)} works/s, ${Math.round(run.identifiersPerSecond)} identifiers/s, ` +
              `peak RSS ${Math.round(run.peakRssBytes / 1024 / 1024)} MiB, ${run.calls} calls, ${(run.wallMs / 1000).toFixed(1)} s`,
          )
        }
      }
    }
    for (const slices of SLICE_COUNTS) {
      const of = (side: 'service' | 'floor') => result.runs.filter((r) => r.side === side && r.slices === slices)
      const service = median(of('service').map((r) => r.worksPerSecond))
      const floor = median(of('floor').map((r) => r.worksPerSecond))
      result.summary.push({
        slices,
        serviceWorksPerSecond: service,
        floorWorksPerSecond: floor,
        ratio: service / floor,
        servicePeakRssBytes: Math.max(...of('service').map((r) => r.peakRssBytes)),
        floorPeakRssBytes: Math.max(...of('floor').map((r) => r.peakRssBytes)),
      })
      ctx.progress(`reprocess: ${slices} slice${slices === 1 ? '' : 's'}: service / floor = ${(service / floor).toFixed(2)}`)
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error)
    ctx.progress(`reprocess: error: ${result.error}`)
  } finally {
    await ctx.admin.es.indices.delete({ index: sourceIndex, ignore_unavailable: true }).catch(() => {})
  }
  return result
}

/** At least this share of the floor's works/s, and under this peak RSS per Lambda process, at any number of works (issue 12). */
export const REPROCESS_TARGETS = { ratio: 0.85, peakRssMiB: 512 }

const MiB = 1024 * 1024

/** The targets for report.ts. */
export function reprocessTargets(result: ReprocessBenchResult): Array<{ target: string; measured: string; pass: boolean | undefined }> {
  if (result.error || result.summary.length === 0) {
    return [{ target: `reprocess of ${result.works.toLocaleString('en-GB')} works: service >= ${REPROCESS_TARGETS.ratio} x floor`, measured: `error: ${result.error?.split('\n')[0] ?? ''}`, pass: false }]
  }
  const targets = result.summary.map((s) => ({
    target: `reprocess of ${result.works.toLocaleString('en-GB')} works, ${s.slices} slice${s.slices === 1 ? '' : 's'}: service >= ${REPROCESS_TARGETS.ratio} x floor works/s`,
    measured: `${s.ratio.toFixed(2)} (${Math.round(s.serviceWorksPerSecond)} vs ${Math.round(s.floorWorksPerSecond)} works/s)`,
    pass: s.ratio >= REPROCESS_TARGETS.ratio,
  }))
  const peak = Math.max(...result.summary.map((s) => s.servicePeakRssBytes))
  const floorPeak = Math.max(...result.summary.map((s) => s.floorPeakRssBytes))
  targets.push({
    target: `reprocess: peak RSS of a Lambda process < ${REPROCESS_TARGETS.peakRssMiB} MiB (the issue's target is at 1,000,000 works; this run: ${result.works.toLocaleString('en-GB')})`,
    measured: `${Math.round(peak / MiB)} MiB (floor ${Math.round(floorPeak / MiB)} MiB)`,
    pass: peak < REPROCESS_TARGETS.peakRssMiB * MiB,
  })
  return targets
}

/** The Markdown section for report.ts. */
export function renderReprocess(result: ReprocessBenchResult): string[] {
  const out = [
    `### Reprocess (a full reprocess of ${result.works.toLocaleString('en-GB')} works x ${result.identifiersPerWork} identifiers, all new; one process per slice under the Lambda runtime's node flags for ${result.lambdaMemoryMb} MB)`,
    '',
  ]
  if (result.error) out.push(`error: ${result.error}`, '')
  out.push(
    `Source index filled by bulk requests in ${result.fillSeconds.toFixed(1)} s${result.sourceIndexBytes ? ` (${Math.round(result.sourceIndexBytes / MiB)} MiB)` : ''}. ` +
      'Service: the reprocess-full state machine\'s calls of src/lambda.ts (open the job, then each slice looping on its cursor, 15-minute invocations). ' +
      'Floor: the same point-in-time pages, then per 100 ids one mget, the look-up SELECTs, BEGIN, the INSERTs, COMMIT and one bulk (bench/reprocess-floor.ts).',
    '',
  )
  const rows = result.runs.map((r) => [
    r.side,
    String(r.slices),
    String(r.iteration),
    String(Math.round(r.worksPerSecond)),
    String(Math.round(r.identifiersPerSecond)),
    (r.wallMs / 1000).toFixed(1),
    String(Math.round(r.peakRssBytes / MiB)),
    `${Math.round(r.memoryPeaks.heapUsedBytes / MiB)} / ${Math.round(r.memoryPeaks.heapTotalBytes / MiB)}`,
    r.cpuMsPer100.toFixed(1),
    r.sqlStatementsPer100.toFixed(2),
    r.esRequestsPer100.toFixed(2),
    String(r.calls),
    String(r.loadAverage),
  ])
  out.push(
    '| Side | Slices | Iteration | Works/s | Identifiers/s | Seconds | Peak RSS MiB (largest process) | Heap used / total MiB at peak | CPU ms per 100 works | SQL statements per 100 | ES requests per 100 | Calls | Load average at start |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
    '',
  )
  for (const s of result.summary) {
    out.push(`- ${s.slices} slice${s.slices === 1 ? '' : 's'}: service ${Math.round(s.serviceWorksPerSecond)} works/s, floor ${Math.round(s.floorWorksPerSecond)} (medians): **${s.ratio.toFixed(2)}** of the floor.`)
  }
  return out
}
