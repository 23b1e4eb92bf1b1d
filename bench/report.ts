import type { CounterDelta } from './counters.js'
import type { ImportBenchResult } from './import.js'
import type { ExplainRow, LookupBenchResult } from './lookup.js'
import { renderSqs, sqsTarget, type SqsBenchResult } from './sqs.js'
import { renderReprocess, reprocessTargets, type ReprocessBenchResult } from './reprocess.js'
import { renderScale, scaleTargets, type ScaleBenchResult } from './scale.js'
import type { Machine } from './environment.js'
import type { LatencySummary } from './load.js'

export type Mode = 'sequential' | 'concurrent'

export interface PerRequest {
  statements: number
  roundTrips: number
  select: number
  insert: number
  transactions: number
  set: number
  esRequests: number
  esRoutes: Record<string, number>
}

export interface Iteration {
  works: number
  identifiers: number
  requests: number
  wallMs: number
  worksPerSecond: number
  latenciesMs: number[]
  /** Counted by MariaDB and Elasticsearch. */
  server: CounterDelta
  /** Counted by the measured process itself: the cross-check, and its CPU time. */
  client: { sqlStatements: number; esRequests: number; cpuMs: number }
  /** CPU time of the bench process while it drove the pass (HTTP client, or IPC to the floor). */
  driverCpuMs: number
}

export interface SideResult {
  iterations: Iteration[]
  worksPerSecond: number
  identifiersPerSecond: number
  latency: LatencySummary
  /** CPU time of the measured process (user + system) per request: robust to other load on the machine. */
  cpuMsPerRequest: number
  /** CPU time of the bench process per request: sending the work there and reading the answer. */
  driverCpuMsPerRequest: number
  perRequest: PerRequest
  /**
   * In every iteration the server-side counts exceeded what the process counted: other clients
   * were using the servers, and the per-request costs include some of their statements.
   */
  noisy: boolean
  /** Iterations whose server-side counts matched the process's own: the per-request costs come from these. */
  quietIterations: number
  /** RSS once the process was ready, before any request. */
  startupRssBytes: number
  peakRssBytes: number
  /** What the memory was made of at its peaks (sampled every 50 ms): V8 heap and memory outside it. */
  memoryPeaks?: { rssBytes: number; heapTotalBytes: number; heapUsedBytes: number; externalBytes: number }
  /** Service only: Fastify's handling time of POST /mint. */
  handling?: LatencySummary
}

export interface WorkloadResult {
  workload: string
  mode: Mode
  concurrency: number
  worksPerIteration: number
  identifiersPerIteration: number
  service?: SideResult
  floor?: SideResult
  /** Median service throughput / median floor throughput. */
  ratio?: number
  error?: string
}

export interface SingleResult {
  batches: number
  latency: LatencySummary
  handling: LatencySummary
  perRequest: PerRequest
  cpuMsPerRequest: number
  noisy: boolean
  error?: string
}

export interface LambdaResult {
  batches: number
  importMs?: number
  latency?: LatencySummary
  error?: string
}

export interface ColdSample {
  bootMs: number
  importMs: number
  invokeMs: number
  firstResponseMs: number
  spawnToResponseMs: number
  maxRssBytes: number
  /** What src/lambda-entry.ts reported: whether V8 used the bundle's code cache. */
  codeCache: 'accepted' | 'rejected' | 'absent'
}

/**
 * service: the Lambda bundle as the bench configures it (APPLY_MIGRATIONS=true); service-no-migrations:
 * the same with APPLY_MIGRATIONS=false; service-no-code-cache: the same build with its V8 code
 * cache removed; floor: bench/cold-floor.ts; libraries-only: bench/cold-deps.ts; empty: bench/cold-empty.mjs.
 */
export type ColdVariantName = 'service' | 'service-no-migrations' | 'service-no-code-cache' | 'floor' | 'libraries-only' | 'empty'

export type ColdStartResult =
  | { measured: false; reason: string }
  | {
    measured: true
    bundle: string
    samples: ColdSample[]
    importMs: number
    firstResponseMs: number
    spawnToResponseMs: number
    eventWorks: number
    /** node's flags in every cold-start process: the Lambda runtime's for the memory size measured. */
    nodeFlags?: string[]
    variants?: Array<{ name: ColdVariantName; samples: ColdSample[]; importMs: number; firstResponseMs: number; spawnToResponseMs: number; maxRssBytes: number }>
  }
  | { measured: true; bundle: string; error: string }

export interface BenchResults {
  startedAt: string
  durationSeconds: number
  options: Record<string, unknown>
  machine: Machine
  workloads: WorkloadResult[]
  single?: SingleResult
  lambda?: LambdaResult
  coldStart?: ColdStartResult
  importer?: ImportBenchResult
  lookup?: LookupBenchResult
  sqs?: SqsBenchResult
  reprocess?: ReprocessBenchResult
  scale?: ScaleBenchResult
  targets: Target[]
}

export interface Target {
  target: string
  measured: string
  pass: boolean | undefined
}

export const TARGETS = {
  singleP50Ms: 150,
  floorRatio: 0.85,
  coldStartMs: 300,
  largeFanoutRssMiB: 150,
  /** npm run db:import against INSERT … SELECT of the same rows on the same server (issue 13). */
  importRatio: 0.5,
}

const MiB = 1024 * 1024
const fixed = (n: number | undefined, digits = 0) => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits))
const ms = (n: number | undefined) => fixed(n, n !== undefined && n < 10 ? 1 : 0)
const mib = (bytes: number | undefined) => (bytes === undefined ? '–' : fixed(bytes / MiB, 0))
const verdict = (pass: boolean | undefined) => (pass === undefined ? 'n/a' : pass ? '**pass**' : '**MISS**')
const perReq = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2))

export function evaluateTargets(results: Omit<BenchResults, 'targets'>): Target[] {
  const targets: Target[] = []
  const { single, coldStart, workloads } = results
  if (single && !single.error) {
    targets.push({
      target: `100 works x 6 all-new, one request: p50 < ${TARGETS.singleP50Ms} ms`,
      measured: `${ms(single.latency.p50)} ms`,
      pass: single.latency.p50 < TARGETS.singleP50Ms,
    })
  }
  for (const w of workloads) {
    targets.push({
      target: `${w.workload} ${w.mode}: service >= ${TARGETS.floorRatio} x floor throughput`,
      measured: w.ratio === undefined ? (w.error ? 'error' : '–') : fixed(w.ratio, 2),
      pass: w.ratio === undefined ? (w.error ? false : undefined) : w.ratio >= TARGETS.floorRatio,
    })
  }
  // Round trips per request: the service against the floor, whose count is the minimum the
  // design allows (one statement per 1000 values, nothing else).
  for (const w of workloads) {
    if (!w.service || !w.floor) continue
    const service = w.service.perRequest.roundTrips
    const floor = w.floor.perRequest.roundTrips
    targets.push({
      target: `${w.workload} ${w.mode}: SQL round trips per request = the 1000-value chunking minimum`,
      measured: `${perReq(service)} (minimum ${perReq(floor)})`,
      pass: service <= floor + 0.05,
    })
  }
  if (coldStart) {
    if (coldStart.measured && 'firstResponseMs' in coldStart) {
      const v = (name: ColdVariantName) => coldStart.variants?.find((x) => x.name === name)?.firstResponseMs
      const references = [
        v('service-no-code-cache') !== undefined ? `${ms(v('service-no-code-cache'))} ms without the code cache` : '',
        v('service-no-migrations') !== undefined ? `${ms(v('service-no-migrations'))} ms with APPLY_MIGRATIONS=false` : '',
        v('floor') !== undefined ? `floor ${ms(v('floor'))} ms` : '',
        v('libraries-only') !== undefined ? `ES client + mysql2 + fastify alone ${ms(v('libraries-only'))} ms` : '',
        v('empty') !== undefined ? `bare Node ${ms(v('empty'))} ms` : '',
      ].filter(Boolean)
      targets.push({
        target: `Lambda cold start (process start to first response) < ${TARGETS.coldStartMs} ms`,
        measured: `${ms(coldStart.firstResponseMs)} ms (import ${ms(coldStart.importMs)} ms)${references.length ? `; ${references.join(', ')}` : ''}`,
        pass: coldStart.firstResponseMs < TARGETS.coldStartMs,
      })
    } else {
      targets.push({
        target: `Lambda cold start < ${TARGETS.coldStartMs} ms`,
        measured: coldStart.measured ? `error: ${'error' in coldStart ? coldStart.error.split('\n')[0] : ''}` : coldStart.reason,
        pass: coldStart.measured ? false : undefined,
      })
    }
  }
  const importer = results.importer
  if (importer) {
    targets.push({
      target: `db:import of ${importer.rows.toLocaleString('en-GB')} legacy rows >= ${TARGETS.importRatio} x INSERT … SELECT rows/s (whole command: checks, copy, verification)`,
      measured: importer.ratio === undefined ? `error: ${importer.error?.split('\n')[0] ?? ''}` : `${fixed(importer.ratio, 2)} (copy phase alone ${fixed(importer.copyRatio, 2)})`,
      pass: importer.ratio === undefined ? false : importer.ratio >= TARGETS.importRatio,
    })
  }
  if (results.sqs) targets.push(sqsTarget(results.sqs))
  if (results.reprocess) targets.push(...reprocessTargets(results.reprocess))
  if (results.scale) targets.push(...scaleTargets(results.scale))
  const fanout = workloads.filter((w) => w.workload === 'large-fanout' && w.service)
  if (fanout.length > 0) {
    const peak = Math.max(...fanout.map((w) => w.service?.peakRssBytes ?? 0))
    const floorPeak = Math.max(...fanout.map((w) => w.floor?.peakRssBytes ?? 0))
    targets.push({
      target: `service peak RSS during large-fanout < ${TARGETS.largeFanoutRssMiB} MiB`,
      measured: `${mib(peak)} MiB (floor ${mib(floorPeak)} MiB)`,
      pass: peak < TARGETS.largeFanoutRssMiB * MiB,
    })
  }
  return targets
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

/** The mode, and how many requests could really be in flight when a pass has fewer batches than that. */
function inFlight(w: WorkloadResult): string {
  const batches = Math.ceil(w.worksPerIteration / 100)
  return batches < w.concurrency ? `${w.mode} (${w.concurrency}; ${batches} batches, so ${batches} in flight)` : `${w.mode} (${w.concurrency})`
}

function latencies(l: LatencySummary | undefined): string {
  return l ? `${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.p99)}` : '–'
}

export function renderMarkdown(results: BenchResults): string {
  const m = results.machine
  const out: string[] = []
  const mode = results.options.quick ? 'quick' : 'full'
  out.push(`## id-minter benchmark, ${results.startedAt} (${mode}, ${results.options.iterations} iteration(s) per workload and mode)`)
  out.push('')
  out.push(
    `**Machine:** ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM · Node ${m.node} · MariaDB ${m.mariadb} · ` +
      `Elasticsearch ${m.elasticsearch}${m.elasticsearchHeapMiB ? ` (heap ${m.elasticsearchHeapMiB} MiB)` : ''} · all on this machine · ` +
      `load average ${m.loadAverage.start} at start, ${m.loadAverage.end ?? '?'} at end · ` +
      `service started with node ${(results.options.serviceNodeFlags as string[] | undefined)?.join(' ') || '(no flags)'}, the floor with no flags`,
  )
  if (Math.max(m.loadAverage.start, m.loadAverage.end ?? 0) > m.cores / 2) {
    out.push('', `> ⚠ The machine was busy with other work (load average above ${m.cores / 2}): throughput and latency are pessimistic and noisy.`)
  }
  const noisy = results.workloads.some((w) => w.service?.noisy || w.floor?.noisy) || results.single?.noisy

  if (results.workloads.length > 0) {
    out.push('', '### Throughput and latency (batches of 100 works; service over HTTP, floor = bare mysql2 + Elasticsearch client)', '')
    out.push(
      table(
        ['Workload', 'Mode', 'Works', 'Service works/s', 'Service ids/s', 'Floor works/s', 'Floor ids/s', '**Service / floor**', 'Service p50 / p95 / p99 ms', 'Floor p50 / p95 / p99 ms'],
        results.workloads.map((w) => {
          if (w.error) return [w.workload, w.mode, String(w.worksPerIteration), `error: ${w.error.split('\n')[0]}`, '', '', '', '', '', '']
          return [
            w.workload,
            inFlight(w),
            `${w.worksPerIteration} x ${w.identifiersPerIteration / w.worksPerIteration} ids`,
            fixed(w.service?.worksPerSecond),
            fixed(w.service?.identifiersPerSecond),
            fixed(w.floor?.worksPerSecond),
            fixed(w.floor?.identifiersPerSecond),
            `**${fixed(w.ratio, 2)}**`,
            latencies(w.service?.latency),
            latencies(w.floor?.latency),
          ]
        }),
      ),
    )
    out.push('', '### Cost per request of 100 works (SQL and Elasticsearch requests counted server-side)', '')
    out.push(
      table(
        ['Workload', 'Mode', 'SQL statements', 'SQL round trips', 'Floor round trips', 'Service SELECT / INSERT / tx / SET', 'ES requests', 'Floor ES requests', 'Service CPU ms', 'Floor CPU ms', 'Bench CPU ms (service / floor)', 'Service RSS MiB ready → peak', 'Floor RSS MiB ready → peak'],
        results.workloads
          .filter((w) => !w.error)
          .map((w) => {
            const s = w.service?.perRequest
            const f = w.floor?.perRequest
            const warn = (side?: SideResult) => (side?.noisy ? ' ⚠' : '')
            return [
              w.workload,
              w.mode,
              s ? perReq(s.statements) + warn(w.service) : '–',
              s ? perReq(s.roundTrips) : '–',
              f ? perReq(f.roundTrips) + warn(w.floor) : '–',
              s ? `${perReq(s.select)} / ${perReq(s.insert)} / ${perReq(s.transactions)} / ${perReq(s.set)}` : '–',
              s ? `${perReq(s.esRequests)} (${Object.entries(s.esRoutes).map(([r, n]) => `${r} ${perReq(n)}`).join(', ')})` : '–',
              f ? perReq(f.esRequests) : '–',
              fixed(w.service?.cpuMsPerRequest, 1),
              fixed(w.floor?.cpuMsPerRequest, 1),
              `${fixed(w.service?.driverCpuMsPerRequest, 1)} / ${fixed(w.floor?.driverCpuMsPerRequest, 1)}`,
              `${mib(w.service?.startupRssBytes)} → ${mib(w.service?.peakRssBytes)}`,
              `${mib(w.floor?.startupRssBytes)} → ${mib(w.floor?.peakRssBytes)}`,
            ]
          }),
      ),
    )
  }

  const rows: string[][] = []
  const s = results.single
  if (s) {
    if (s.error) rows.push(['HTTP POST /mint, 100 works x 6 all-new', `error: ${s.error.split('\n')[0]}`, '', '', ''])
    else {
      rows.push(['HTTP POST /mint, 100 works x 6 all-new (end to end)', ms(s.latency.p50), ms(s.latency.p95), ms(s.latency.min), String(s.batches)])
      rows.push(['… of which Fastify handling (server side)', ms(s.handling.p50), ms(s.handling.p95), ms(s.handling.min), String(s.handling.count)])
    }
  }
  const l = results.lambda
  if (l) {
    if (l.error || !l.latency) rows.push(['Step Functions direct invocation (in-process handler)', `error: ${(l.error ?? '').split('\n')[0]}`, '', '', ''])
    else {
      const vsHttp = s && !s.error ? ` (${l.latency.p50 <= s.latency.p50 ? '' : '+'}${ms(l.latency.p50 - s.latency.p50)} ms vs HTTP)` : ''
      rows.push(['Step Functions direct invocation, 100 works x 6 all-new (in-process handler)', `${ms(l.latency.p50)}${vsHttp}`, ms(l.latency.p95), ms(l.latency.min), String(l.batches)])
    }
  }
  const c = results.coldStart
  if (c) {
    if (!c.measured) rows.push(['Lambda cold start', c.reason, '', '', ''])
    else if ('error' in c) rows.push(['Lambda cold start', `error: ${c.error.split('\n')[0]}`, '', '', ''])
    else {
      const cache = [...new Set(c.samples.map((x) => x.codeCache ?? 'absent'))].join('/')
      rows.push([`Lambda cold start: process start to first response (${c.eventWorks}-work event; code cache ${cache})`, ms(c.firstResponseMs), '', ms(Math.min(...c.samples.map((x) => x.firstResponseMs))), String(c.samples.length)])
      rows.push(['… import of the bundle alone (init)', ms(c.importMs), '', ms(Math.min(...c.samples.map((x) => x.importMs))), String(c.samples.length)])
      rows.push(['… spawn to first response, Node boot included', ms(c.spawnToResponseMs), '', '', String(c.samples.length)])
      const variant = (name: ColdVariantName) => c.variants?.find((v) => v.name === name)
      const add = (name: ColdVariantName, label: string, figure: 'firstResponseMs' | 'importMs') => {
        const v = variant(name)
        if (v) rows.push([label, ms(v[figure]), '', ms(Math.min(...v.samples.map((x) => x[figure]))), String(v.samples.length)])
      }
      add('service-no-code-cache', '… the same build without its V8 code cache: first response', 'firstResponseMs')
      add('service-no-code-cache', '… of which import', 'importMs')
      add('service-no-migrations', '… the same with APPLY_MIGRATIONS=false (schema applied at deploy time): first response', 'firstResponseMs')
      add('floor', 'Floor cold start (bare mysql2 + ES client bundle, same build, same events): first response', 'firstResponseMs')
      add('libraries-only', 'Bundle of only @elastic/elasticsearch + mysql2 + fastify: process start to handler answer', 'firstResponseMs')
      add('empty', "Empty handler: Node's own start-up to handler answer", 'firstResponseMs')
    }
  }
  if (rows.length > 0) {
    out.push('', '### Single request, Step Functions path, cold start (ms)', '')
    out.push(table(['Measurement', 'p50 / median', 'p95', 'min', 'Samples'], rows))
  }

  const imp = results.importer
  if (imp) {
    out.push('', `### Legacy import (${imp.rows.toLocaleString('en-GB')} rows, the Scala pipeline's latin1 layout, same server)`, '')
    if (imp.error) out.push(`error: ${imp.error}`)
    const i = imp.importer
    const r = imp.insertSelect
    const rate = (n: number | undefined) => (n === undefined ? '–' : Math.round(n).toLocaleString('en-GB'))
    out.push(
      table(
        ['Measurement', 'Seconds', 'Rows/s'],
        [
          [`Filling the legacy table (${imp.server === 'mariadb' ? 'INSERT … SELECT from seq_1_to_N' : 'INSERT … SELECT from a recursive CTE'}, then its unique key)`, fixed(imp.fillSeconds, 1), rate(imp.rows / imp.fillSeconds)],
          ['`npm run db:import`, whole command', fixed(i?.seconds, 1), rate(i?.rowsPerSecond)],
          ['… pre-write checks', fixed(i?.checksSeconds, 1), ''],
          [`… copy (batches of ${i?.batchSize ?? '–'}, one transaction each)`, fixed(i?.copySeconds, 1), rate(i?.copyRowsPerSecond)],
          ['… verification (counts per type, 1000-row sample through the store)', fixed(i?.verificationSeconds, 1), ''],
          ['INSERT … SELECT into canonical_ids and identifiers', fixed(r?.seconds, 1), rate(r?.rowsPerSecond)],
          ['… canonical_ids', fixed(r?.canonicalIdsSeconds, 1), ''],
          ['… identifiers', fixed(r?.identifiersSeconds, 1), ''],
          ['**db:import ÷ INSERT … SELECT** (whole command / copy phase)', '', `**${fixed(imp.ratio, 2)}** / ${fixed(imp.copyRatio, 2)}`],
        ],
      ),
    )
  }

  if (results.lookup) out.push('', ...renderLookup(results.lookup))
  if (results.sqs) out.push('', ...renderSqs(results.sqs))
  if (results.reprocess) out.push('', ...renderReprocess(results.reprocess))
  if (results.scale) out.push('', ...renderScale(results.scale))

  out.push('', '### Targets', '')
  out.push(table(['Target', 'Measured', 'Result'], results.targets.map((t) => [t.target, t.measured, verdict(t.pass)])))

  out.push(
    '',
    '**How this was measured.** Every workload and mode ran on a fresh database and fresh indices, for the service and for the floor alike; ' +
      'a warm-up pass preceded the measured iterations, which alternated between floor and service. Throughput is the median over iterations ' +
      '(works / wall time from the first request sent to the last answered); latency percentiles pool every request of every iteration. ' +
      `The service is the production app (buildApp) on a real HTTP listener in a child process, fed by ${results.options.client === 'fetch' ? 'fetch' : 'node:http (keep-alive)'} from the bench process; ` +
      'the floor (bench/floor.ts) issues only the mget, the look-up SELECTs, BEGIN, the multi-row INSERTs, COMMIT and the bulk index, in a child process of its own. ' +
      'SQL statements are MariaDB\'s `Questions` (SHOW GLOBAL STATUS) before and after each iteration, minus the bench\'s own status query; round trips add ' +
      '`Com_stmt_prepare`; "tx" is BEGIN + COMMIT + ROLLBACK. Elasticsearch requests are the per-route counts of `_nodes/stats/http`. ' +
      'Both counters are global to their server, so each iteration is cross-checked with what the measured process counted itself: ' +
      'per-request costs come from the iterations where the two agreed (nobody else was using the servers)' +
      (noisy ? '; ⚠ marks a figure for which no iteration was quiet, so it includes other clients\' statements.' : '.') +
      ' CPU ms is the measured process\'s own user + system time per request (process.cpuUsage), which other load on the machine barely changes;' +
      ' bench CPU ms is the bench process\'s own, driving that side (the HTTP client for the service, IPC for the floor): it runs on the same two cores.' +
      ' Peak RSS is the process\'s maxRSS (getrusage) over its whole life: start-up, warm-up and all iterations of that workload and mode.' +
      (results.coldStart && 'variants' in results.coldStart && results.coldStart.variants
        ? ` Cold starts are fresh plain-node processes started with the Lambda runtime's V8 flags (${results.coldStart.nodeFlags?.join(' ') ?? 'none'}), interleaved across variants: the Lambda bundle (APPLY_MIGRATIONS=true, then false, then the same build without its code cache), and built the same way (scripts/build-lambda.ts, code cache included) the floor as a handler, a bundle of only @elastic/elasticsearch + mysql2 + fastify, and an empty handler.`
        : ''),
  )
  return `${out.join('\n')}\n`
}

function renderLookup(lookup: LookupBenchResult): string[] {
  const out = [`### Look-ups (${lookup.rows.toLocaleString('en-GB')} mappings, and an empty table; requests alternate between the two)`, '']
  if (lookup.error) out.push(`error: ${lookup.error}`, '')
  const f = lookup.fill
  if (f) {
    out.push(
      `Filled by INSERT … SELECT from ${f.server === 'mariadb' ? 'seq_1_to_N' : 'a recursive CTE'} in ${fixed(f.seconds, 1)} s (canonical_ids ${fixed(f.canonicalIdsSeconds, 1)}, identifiers ${fixed(f.identifiersSeconds, 1)}, index and foreign key ${fixed(f.indexSeconds, 1)}).` +
        (lookup.sizes ? ` identifiers ${mib(lookup.sizes.identifiersBytes)} MiB, canonical_ids ${mib(lookup.sizes.canonicalIdsBytes)} MiB (data and indexes); buffer pool ${mib(lookup.sizes.bufferPoolBytes)} MiB.` : ''),
      '',
    )
  }
  if (lookup.loadAverage) out.push(`Load average ${lookup.loadAverage.start} when the measured requests started, ${lookup.loadAverage.end} when they ended.`, '')
  const row = (what: string, pick: (t: NonNullable<LookupBenchResult['filled']>) => LatencySummary) =>
    [what, lookup.filled ? `${ms(pick(lookup.filled).p50)} / ${ms(pick(lookup.filled).p95)}` : '–', lookup.empty ? `${ms(pick(lookup.empty).p50)} / ${ms(pick(lookup.empty).p95)}` : '–', String(lookup.filled ? pick(lookup.filled).count : '–')]
  out.push(
    table(
      ['Request', `p50 / p95 ms, ${lookup.rows.toLocaleString('en-GB')} rows`, 'p50 / p95 ms, empty table', 'Samples each'],
      [
        row(`POST /source-identifiers/lookup, ${lookup.keysPerRequest} keys (found ${lookup.filled?.foundPerRequest ?? '–'} / ${lookup.empty?.foundPerRequest ?? '–'})`, (t) => t.bulk),
        row(`… its statement alone for ${lookup.keysPerRequest} other keys, over mysql2 from the bench`, (t) => t.bulkStatement),
        row('GET /source-identifiers (found / 404)', (t) => t.sourceIdentifier),
        row('GET /canonical-ids/{canonicalId} (found / 404)', (t) => t.canonicalId),
      ],
    ),
  )
  if (lookup.explain) {
    const explained = (rows: ExplainRow[]) =>
      rows.map((r) => `${r.table}: ${r.type} on ${r.key ?? '(none)'}, ${r.rows} rows${r.extra ? `, ${r.extra}` : ''}`).join('; ')
    out.push(
      '',
      'EXPLAIN of the statements the service runs, on the filled table:',
      '',
      `- 1,000 source identifiers (one statement): ${explained(lookup.explain.sourceIdentifiers)}`,
      `- one canonical ID: ${explained(lookup.explain.canonicalId)}`,
      `- a canonical ID no identifier has (is it registered?): ${explained(lookup.explain.canonicalIdRegistered)}`,
    )
  }
  return out
}
