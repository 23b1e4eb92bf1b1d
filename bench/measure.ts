import { fork } from 'node:child_process'
import http from 'node:http'
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildDir, startFloor, startLambda, startService } from './children.js'
import { addDeltas, type CounterDelta, type ServerCounters } from './counters.js'
import { createStores, dropStores, freshStores, seedKnown, seedWorks, serviceEnvironment, storedCounts, type Admin, type Stores } from './environment.js'
import type { FloorCounters } from './floor.js'
import type { MemoryPeaks } from './protocol.js'
import { median, runBatches, summarise, type LoadResult } from './load.js'
import type { ColdSample, ColdStartResult, ColdVariantName, Iteration, LambdaResult, Mode, PerRequest, SideResult, SingleResult, WorkloadResult } from './report.js'
import type { ServiceCounters } from './service-child.js'
import { BATCH_SIZE, generatePass, WORKLOADS, type Workload, type WorkloadPass } from './workloads.js'

export interface Context {
  admin: Admin
  counters: ServerCounters
  quick: boolean
  iterations: number
  logLevel: string
  profileDir?: string
  /** Where allocation profiles of the measured passes go (--heap-profile). */
  heapProfileDir?: string
  verbose: boolean
  lambdaBundle?: string
  /** node flags for the service child: production's (package.json start) unless --service-node-flags. */
  serviceNodeFlags: string[]
  /** How the bench sends POST /mint: node:http (default) or fetch. */
  client: Client
  progress(message: string): void
  /** Every child alive, so an interrupted run can stop them. */
  children: Set<{ kill(): void }>
}

interface Side {
  run(batches: string[][], concurrency: number): Promise<LoadResult>
  counters(): Promise<{ sqlStatements: number; esRequests: number; cpuMs: number; handlingMs?: number[] }>
}

export type Client = 'http' | 'fetch'

const CONCURRENCY: Record<Mode, number> = { sequential: 1, concurrent: 4 }
/** Identifiers minted or looked up in a full run's warm-up pass, per workload and mode. */
const WARM_UP_IDENTIFIERS = 12_000
/** The Lambda memory size the cold start is measured for (infra/terraform's default): it sets node's V8 flags. */
const LAMBDA_MEMORY_MB = 1024
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0)

/**
 * POSTs one batch to the service; anything but every work minted is an error. The bench process
 * shares the machine's two cores with the service, the floor and both servers, so the client is
 * node:http with a keep-alive agent (`--client http`, the default): fetch (undici's WHATWG
 * streams) costs the bench more CPU per request, which the service would be charged for.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })

function postMint(client: Client, url: string, sourceIdentifiers: string[]): Promise<void> {
  return client === 'fetch' ? postMintFetch(url, sourceIdentifiers) : postMintHttp(url, sourceIdentifiers)
}

async function postMintFetch(url: string, sourceIdentifiers: string[]): Promise<void> {
  const response = await fetch(`${url}/mint`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sourceIdentifiers }),
  })
  checkMint(response.status, await response.text(), sourceIdentifiers)
}

function postMintHttp(url: string, sourceIdentifiers: string[]): Promise<void> {
  const body = JSON.stringify({ sourceIdentifiers })
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${url}/mint`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (text += chunk))
        response.on('end', () => {
          try {
            checkMint(response.statusCode ?? 0, text, sourceIdentifiers)
            resolve()
          } catch (error) {
            reject(error)
          }
        })
        response.on('error', reject)
      },
    )
    request.on('error', reject)
    request.end(body)
  })
}

function checkMint(status: number, text: string, sourceIdentifiers: string[]): void {
  if (status !== 200) throw new Error(`POST /mint answered ${status}: ${text.slice(0, 500)}`)
  const body = JSON.parse(text) as { successes: string[]; failures: Array<{ error: string }> }
  if (body.failures.length > 0 || body.successes.length !== sourceIdentifiers.length) {
    throw new Error(`POST /mint: ${body.failures.length} failures, e.g. ${body.failures[0]?.error}`)
  }
}

function track<T extends { kill(): void; exited: Promise<unknown> }>(ctx: Context, child: T): T {
  ctx.children.add(child)
  void child.exited.then(() => ctx.children.delete(child))
  return child
}

async function prepare(ctx: Context, stores: Stores, passes: WorkloadPass[]): Promise<void> {
  await createStores(ctx.admin, stores)
  await seedWorks(ctx.admin, stores, passes.flatMap((p) => p.works))
  await seedKnown(ctx.admin, stores, passes.flatMap((p) => p.known))
}

/** One measured pass: counters read before and after, nothing else touching the servers in between. */
async function measure(ctx: Context, side: Side, pass: WorkloadPass, concurrency: number): Promise<Iteration & { handlingMs: number[] }> {
  const clientBefore = await side.counters()
  const before = await ctx.counters.snapshot()
  const driverBefore = process.cpuUsage()
  const load = await side.run(pass.batches, concurrency)
  const driver = process.cpuUsage(driverBefore)
  const after = await ctx.counters.snapshot()
  const clientAfter = await side.counters()
  return {
    works: pass.works.length,
    identifiers: pass.identifiers,
    requests: pass.batches.length,
    wallMs: load.wallMs,
    worksPerSecond: (pass.works.length / load.wallMs) * 1000,
    latenciesMs: load.latenciesMs,
    server: ctx.counters.delta(before, after),
    client: {
      sqlStatements: clientAfter.sqlStatements - clientBefore.sqlStatements,
      esRequests: clientAfter.esRequests - clientBefore.esRequests,
      cpuMs: clientAfter.cpuMs - clientBefore.cpuMs,
    },
    driverCpuMs: (driver.user + driver.system) / 1000,
    handlingMs: clientAfter.handlingMs ?? [],
  }
}

function perRequest(total: CounterDelta, requests: number): PerRequest {
  const per = (n: number) => Math.round((n / requests) * 100) / 100
  return {
    statements: per(total.statements),
    roundTrips: per(total.roundTrips),
    select: per(total.select),
    insert: per(total.insert),
    transactions: per(total.begin + total.commit + total.rollback),
    set: per(total.set),
    esRequests: per(total.esRequests),
    esRoutes: Object.fromEntries(Object.entries(total.esRoutes).map(([route, n]) => [route, per(n)])),
  }
}

/** The servers counted exactly what the measured process sent: nobody else was using them. */
const quiet = (i: Iteration) => i.server.statements === i.client.sqlStatements && i.server.esRequests === i.client.esRequests

function sideResult(
  iterations: Array<Iteration & { handlingMs: number[] }>,
  rss: { startup: number; peak: number; parts?: MemoryPeaks },
  withHandling: boolean,
): SideResult {
  // Other clients of the same servers only ever add to the global counters, so the per-request
  // costs come from the quiet iterations when there are any.
  const counted = iterations.some(quiet) ? iterations.filter(quiet) : iterations
  const total = counted.map((i) => i.server).reduce(addDeltas)
  const requests = counted.reduce((n, i) => n + i.requests, 0)
  const noisy = !iterations.some(quiet)
  const result: SideResult = {
    iterations: iterations.map(({ handlingMs: _, ...iteration }) => iteration),
    worksPerSecond: median(iterations.map((i) => i.worksPerSecond)),
    identifiersPerSecond: median(iterations.map((i) => (i.identifiers / i.wallMs) * 1000)),
    latency: summarise(iterations.flatMap((i) => i.latenciesMs)),
    cpuMsPerRequest: iterations.reduce((n, i) => n + i.client.cpuMs, 0) / iterations.reduce((n, i) => n + i.requests, 0),
    driverCpuMsPerRequest: iterations.reduce((n, i) => n + i.driverCpuMs, 0) / iterations.reduce((n, i) => n + i.requests, 0),
    perRequest: perRequest(total, requests),
    noisy,
    quietIterations: iterations.filter(quiet).length,
    startupRssBytes: rss.startup,
    peakRssBytes: rss.peak,
    ...(rss.parts ? { memoryPeaks: rss.parts } : {}),
  }
  if (withHandling) result.handling = summarise(iterations.flatMap((i) => i.handlingMs))
  return result
}

function expectStored(label: string, stored: { mappings: number; documents: number }, passes: WorkloadPass[]): void {
  const mappings = new Set(passes.flatMap((p) => [...p.allKeys])).size
  const documents = passes.reduce((n, p) => n + p.works.length, 0)
  if (stored.mappings !== mappings || stored.documents !== documents) {
    throw new Error(`${label}: expected ${mappings} mappings and ${documents} documents, found ${stored.mappings} and ${stored.documents}`)
  }
}

/** A workload in one mode: the service and the floor side by side, each on stores of its own. */
export async function runWorkload(ctx: Context, workload: Workload, mode: Mode): Promise<WorkloadResult> {
  const label = `${workload.name}/${mode}`
  const concurrency = CONCURRENCY[mode]
  const count = ctx.quick ? workload.quickWorks : workload.works
  // The warm-up pass is of the same shape, on works of its own, with as many requests in flight
  // as the measured passes will have (so the connection pools are full, and no more, since the
  // peak RSS counts the warm-up too). In a full run it carries some WARM_UP_IDENTIFIERS, enough for
  // V8 to have compiled both sides' hot code (20 requests of 6-identifier works): with a few
  // requests only, the first measured passes still ran partly unoptimised code, the service's
  // more than the floor's, and throughput rose pass after pass.
  const warmBatches = ctx.quick
    ? Math.max(1, Math.min(concurrency, Math.ceil(count / BATCH_SIZE)))
    : Math.max(concurrency, Math.ceil(WARM_UP_IDENTIFIERS / (1 + workload.nested) / BATCH_SIZE))
  const passes = [generatePass(workload, 0, warmBatches * BATCH_SIZE)]
  for (let i = 1; i <= ctx.iterations; i++) passes.push(generatePass(workload, i, count))
  const result: WorkloadResult = {
    workload: workload.name,
    mode,
    concurrency,
    worksPerIteration: count,
    identifiersPerIteration: passes[1]?.identifiers ?? 0,
  }

  const stores = { service: freshStores(), floor: freshStores() }
  const env = (s: Stores) => ({ env: serviceEnvironment(s, ctx.logLevel), verbose: ctx.verbose, nodeFlags: ctx.serviceNodeFlags })
  ctx.progress(`${label}: preparing ${stores.service.database} (service) and ${stores.floor.database} (floor), ${passes.reduce((n, p) => n + p.works.length, 0)} works each`)
  const service = track(ctx, startService(env(stores.service)))
  const floor = track(ctx, startFloor(env(stores.floor)))
  try {
    const [ready, floorReady] = await Promise.all([service.ready, floor.ready, prepare(ctx, stores.service, passes), prepare(ctx, stores.floor, passes)])
    const sides: Record<'service' | 'floor', Side> = {
      service: {
        run: (batches, c) => runBatches(batches, c, (batch) => postMint(ctx.client, ready.url, batch)),
        counters: () => service.call<ServiceCounters>('counters'),
      },
      floor: {
        run: (batches, c) => floor.call<LoadResult>('run', { batches, concurrency: c }),
        counters: () => floor.call<FloorCounters>('counters'),
      },
    }
    const warm = passes[0] as WorkloadPass
    await sides.floor.run(warm.batches, concurrency)
    await sides.service.run(warm.batches, concurrency)
    if (ctx.profileDir) await Promise.all([service.call('profileStart'), floor.call('profileStart')])
    if (ctx.heapProfileDir) await Promise.all([service.call('heapProfileStart'), floor.call('heapProfileStart')])

    const measured: Record<'service' | 'floor', Array<Iteration & { handlingMs: number[] }>> = { service: [], floor: [] }
    for (let i = 1; i <= ctx.iterations; i++) {
      // Alternating which goes first spreads any drift in the servers over both.
      const order = i % 2 ? (['floor', 'service'] as const) : (['service', 'floor'] as const)
      const line: string[] = []
      for (const name of order) {
        const iteration = await measure(ctx, sides[name], passes[i] as WorkloadPass, concurrency)
        measured[name].push(iteration)
        line.push(`${name} ${iteration.worksPerSecond.toFixed(0)} works/s`)
      }
      ctx.progress(`${label}: iteration ${i}/${ctx.iterations}: ${line.join(', ')}`)
    }

    if (ctx.heapProfileDir) {
      mkdirSync(ctx.heapProfileDir, { recursive: true })
      await service.call('heapProfileStop', join(ctx.heapProfileDir, `${workload.name}-${mode}-service.heapprofile`))
      await floor.call('heapProfileStop', join(ctx.heapProfileDir, `${workload.name}-${mode}-floor.heapprofile`))
    }
    if (ctx.profileDir) {
      mkdirSync(ctx.profileDir, { recursive: true })
      await service.call('profileStop', join(ctx.profileDir, `${workload.name}-${mode}-service.cpuprofile`))
      await floor.call('profileStop', join(ctx.profileDir, `${workload.name}-${mode}-floor.cpuprofile`))
    }
    const [serviceFinal, floorFinal] = await Promise.all([service.close<ServiceCounters>(), floor.close<FloorCounters>()])
    const [serviceStored, floorStored] = await Promise.all([storedCounts(ctx.admin, stores.service), storedCounts(ctx.admin, stores.floor)])
    expectStored(`${label} service`, serviceStored, passes)
    expectStored(`${label} floor`, floorStored, passes)

    result.service = sideResult(
      measured.service,
      { startup: ready.rssBytes, peak: serviceFinal?.maxRssBytes ?? Number.NaN, ...(serviceFinal?.memoryPeaks ? { parts: serviceFinal.memoryPeaks } : {}) },
      true,
    )
    result.floor = sideResult(
      measured.floor,
      { startup: floorReady.rssBytes, peak: floorFinal?.maxRssBytes ?? Number.NaN, ...(floorFinal?.memoryPeaks ? { parts: floorFinal.memoryPeaks } : {}) },
      false,
    )
    const parts = (p?: MemoryPeaks) => (p ? `heap ${mib(p.heapUsedBytes)} used / ${mib(p.heapTotalBytes)} total, external ${mib(p.externalBytes)}` : '?')
    ctx.progress(`${label}: peak RSS service ${mib(result.service.peakRssBytes)} MiB (${parts(result.service.memoryPeaks)}), floor ${mib(result.floor.peakRssBytes)} MiB (${parts(result.floor.memoryPeaks)})`)
    result.ratio = result.service.worksPerSecond / result.floor.worksPerSecond
    ctx.progress(
      `${label}: service ${result.service.worksPerSecond.toFixed(0)} works/s, floor ${result.floor.worksPerSecond.toFixed(0)} works/s, ratio ${result.ratio.toFixed(2)}`,
    )
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error)
    ctx.progress(`${label}: FAILED: ${result.error}`)
  } finally {
    service.kill()
    floor.kill()
    await Promise.all([dropStores(ctx.admin, stores.service), dropStores(ctx.admin, stores.floor)]).catch(() => {})
  }
  return result
}

const singleBatches = (ctx: Context) => (ctx.quick ? 10 : 20)

/** (a) One request of 100 works x 6, all new, over HTTP: sequential fresh batches after a warm-up. */
export async function measureSingle(ctx: Context): Promise<SingleResult> {
  const workload = WORKLOADS['all-new']
  const batches = singleBatches(ctx)
  const passes = [generatePass(workload, 0, 2 * BATCH_SIZE), generatePass(workload, 1, batches * BATCH_SIZE)]
  const stores = freshStores()
  ctx.progress(`single request: ${batches} fresh batches of 100 works x 6 on ${stores.database}`)
  const service = track(ctx, startService({ env: serviceEnvironment(stores, ctx.logLevel), verbose: ctx.verbose, nodeFlags: ctx.serviceNodeFlags }))
  try {
    const [ready] = await Promise.all([service.ready, prepare(ctx, stores, passes)])
    const side: Side = {
      run: (b, c) => runBatches(b, c, (batch) => postMint(ctx.client, ready.url, batch)),
      counters: () => service.call<ServiceCounters>('counters'),
    }
    await side.run((passes[0] as WorkloadPass).batches, 1)
    const iteration = await measure(ctx, side, passes[1] as WorkloadPass, 1)
    await service.close()
    const latency = summarise(iteration.latenciesMs)
    ctx.progress(`single request: p50 ${latency.p50.toFixed(1)} ms`)
    return {
      batches,
      latency,
      handling: summarise(iteration.handlingMs),
      perRequest: perRequest(iteration.server, iteration.requests),
      cpuMsPerRequest: iteration.client.cpuMs / iteration.requests,
      noisy: !quiet(iteration),
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    ctx.progress(`single request: FAILED: ${message}`)
    return { batches, latency: summarise([]), handling: summarise([]), perRequest: perRequest(emptyDelta(), 1), cpuMsPerRequest: Number.NaN, noisy: false, error: message }
  } finally {
    service.kill()
    await dropStores(ctx.admin, stores).catch(() => {})
  }
}

function emptyDelta(): CounterDelta {
  return { statements: 0, roundTrips: 0, select: 0, insert: 0, begin: 0, commit: 0, rollback: 0, set: 0, esRequests: 0, esRoutes: {} }
}

/** (b) The Step Functions path: the Lambda handler invoked in-process with {sourceIdentifiers}. */
export async function measureLambda(ctx: Context): Promise<LambdaResult> {
  const workload = WORKLOADS['all-new']
  const batches = singleBatches(ctx)
  const passes = [generatePass(workload, 0, 2 * BATCH_SIZE), generatePass(workload, 1, batches * BATCH_SIZE)]
  const stores = freshStores()
  ctx.progress(`lambda: importing src/lambda.ts in a child, ${batches} direct invocations of 100 works x 6`)
  // The module builds its app from the environment when imported, so the stores must exist first.
  await prepare(ctx, stores, passes)
  const lambda = track(ctx, startLambda({ env: serviceEnvironment(stores, ctx.logLevel), verbose: ctx.verbose }))
  try {
    const { importMs } = await lambda.ready
    await lambda.call<number[]>('invoke', { batches: (passes[0] as WorkloadPass).batches })
    const latency = summarise(await lambda.call<number[]>('invoke', { batches: (passes[1] as WorkloadPass).batches }))
    ctx.progress(`lambda: p50 ${latency.p50.toFixed(1)} ms`)
    return { batches, importMs, latency }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    ctx.progress(`lambda: FAILED: ${message}`)
    return { batches, error: message }
  } finally {
    lambda.kill()
    await dropStores(ctx.admin, stores).catch(() => {})
  }
}

/** The esbuild bundle of src/lambda.ts, if `npm run build:lambda` has made one. */
interface ColdVariant {
  name: ColdVariantName
  bundle: string
  env: Record<string, string>
  /** Mints its event: gets fresh works of its own every sample. */
  mints: boolean
}

/** One cold start: a fresh plain-node process imports the bundle and answers one event. */
async function coldStartOnce(ctx: Context, variant: ColdVariant, sourceIdentifiers: string[], nodeFlags: string[]) {
  const started = performance.now()
  const child = fork(fileURLToPath(new URL('./cold-start.mjs', import.meta.url)), [variant.bundle], {
    env: { ...process.env, ...variant.env, AWS_LAMBDA_FUNCTION_NAME: 'id-minter-bench', BENCH_EVENT: JSON.stringify({ sourceIdentifiers }) },
    execArgv: nodeFlags,
    stdio: ['ignore', ctx.verbose ? 'inherit' : 'ignore', 'pipe', 'ipc'],
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const report = await new Promise<Record<string, number>>((resolvePromise, reject) => {
    child.once('message', (message) => resolvePromise(message as Record<string, number>))
    child.once('exit', (code) => reject(new Error(`${variant.name} cold-start process exited with ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`)))
  })
  const spawnToResponseMs = performance.now() - started
  await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)))
  if (report.failures !== 0) throw new Error(`${variant.name} cold-start event: ${report.failures} failures`)
  return {
    bootMs: report.bootMs as number,
    importMs: report.importMs as number,
    invokeMs: report.invokeMs as number,
    firstResponseMs: report.firstResponseMs as number,
    spawnToResponseMs,
    maxRssBytes: report.maxRssBytes as number,
    codeCache: report.codeCache as unknown as ColdSample['codeCache'],
  }
}

/**
 * The flags the Lambda Node.js runtime's bootstrap starts node with for a function of memorySizeMb
 * (--expose-gc, and heap sizes from the memory: a tenth for the young generation, the rest old).
 * Only --expose-gc decides whether V8 takes the code cache (LAMBDA_CACHE_FLAGS); the heap sizes
 * are here so that a cold start collects garbage as a deployed one does.
 */
export function lambdaRuntimeNodeFlags(memorySizeMb: number): string[] {
  const newSpace = Math.floor(memorySizeMb / 10)
  return ['--expose-gc', '--max-http-header-size', '81920', `--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memorySizeMb - newSpace}`]
}

/**
 * Cold start: fresh processes (plain node) import the bundle and answer their first event, with
 * the schema check at start-up (APPLY_MIGRATIONS=true, the bench's configuration throughout) and
 * without it. Beside it, for what any bundle of this service could do on this machine: the
 * floor as a handler (bare mysql2 + Elasticsearch client, same events), a bundle of nothing but
 * @elastic/elasticsearch + mysql2 + fastify, and an empty handler (Node's own start-up). The
 * runs are interleaved, so drifting load on the machine touches every variant alike.
 */
export async function measureColdStart(ctx: Context): Promise<ColdStartResult> {
  if (ctx.lambdaBundle && !existsSync(ctx.lambdaBundle)) return { measured: false, reason: `not measured: ${ctx.lambdaBundle} does not exist` }
  const samples = ctx.quick ? 3 : 7
  const workload = WORKLOADS['all-new']
  const stores = freshStores()
  ctx.progress('cold start: building the Lambda artifact of this checkout and the reference bundles')
  try {
    const built = await buildColdReferences()
    // The artifact `npm run build:lambda` would make of this checkout (a dist/ left from an earlier
    // build could be stale), unless --lambda-bundle names one.
    const bundle = ctx.lambdaBundle ? resolve(ctx.lambdaBundle) : built.service
    ctx.progress(`cold start: ${samples} fresh processes per variant, importing ${bundle} and the reference bundles`)
    // Started as the Lambda runtime starts node for a function of this size.
    const nodeFlags = lambdaRuntimeNodeFlags(LAMBDA_MEMORY_MB)
    const { MIGRATIONS_FOLDER: _, ...env } = serviceEnvironment(stores, ctx.logLevel)
    const variants: ColdVariant[] = [
      { name: 'service', bundle, env, mints: true },
      { name: 'service-no-migrations', bundle, env: { ...env, APPLY_MIGRATIONS: 'false' }, mints: true },
      { name: 'service-no-code-cache', bundle: built.serviceWithoutCache, env, mints: true },
      { name: 'floor', bundle: built.floor, env, mints: true },
      { name: 'libraries-only', bundle: built.libraries, env, mints: false },
      { name: 'empty', bundle: built.empty, env, mints: false },
    ]
    const minting = variants.filter((v) => v.mints).length
    const passes = Array.from({ length: samples * minting }, (_, i) => generatePass(workload, i + 1, BATCH_SIZE))
    // A deployed function finds its schema in place; the migration check still runs at start-up.
    await prepare(ctx, stores, passes)
    const results = new Map<ColdVariantName, ColdSample[]>(variants.map((v) => [v.name, []]))
    let next = 0
    for (let i = 0; i < samples; i++) {
      for (const variant of variants) {
        const batch = variant.mints ? ((passes[next++] as WorkloadPass).batches[0] as string[]) : ['none']
        results.get(variant.name)?.push(await coldStartOnce(ctx, variant, batch, nodeFlags))
      }
    }
    const summary = (name: ColdVariantName) => {
      const list = results.get(name) as ColdSample[]
      return {
        name,
        samples: list,
        importMs: median(list.map((r) => r.importMs)),
        firstResponseMs: median(list.map((r) => r.firstResponseMs)),
        spawnToResponseMs: median(list.map((r) => r.spawnToResponseMs)),
        maxRssBytes: median(list.map((r) => r.maxRssBytes)),
      }
    }
    const main = summary('service')
    const result = {
      measured: true as const,
      bundle,
      samples: main.samples,
      importMs: main.importMs,
      firstResponseMs: main.firstResponseMs,
      spawnToResponseMs: main.spawnToResponseMs,
      eventWorks: BATCH_SIZE,
      nodeFlags,
      variants: variants.map((v) => summary(v.name)),
    }
    const line = result.variants.map((v) => `${v.name} ${v.firstResponseMs.toFixed(0)}`).join(', ')
    ctx.progress(`cold start: first response ${result.firstResponseMs.toFixed(0)} ms after process start (import ${result.importMs.toFixed(0)} ms); ${line}`)
    return result
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    ctx.progress(`cold start: FAILED: ${message}`)
    return { measured: true, bundle: ctx.lambdaBundle ?? 'the Lambda artifact of this checkout', error: message }
  } finally {
    await dropStores(ctx.admin, stores).catch(() => {})
  }
}

/**
 * The service's Lambda artifact and the reference bundles, built as `npm run build:lambda` builds
 * (scripts/build-lambda.ts, code cache included) into bench/results/.build/, and a copy of the
 * service's build without its code cache.
 */
async function buildColdReferences(): Promise<{ service: string; floor: string; libraries: string; empty: string; serviceWithoutCache: string }> {
  const { buildLambda } = await import('../scripts/build-lambda.js')
  const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))
  const options = { zipFile: false as const }
  const [service, floor, libraries] = await Promise.all([
    buildLambda({ ...options, outDir: join(buildDir, 'cold-service') }),
    buildLambda({ ...options, entryPoint: here('./cold-floor.ts'), outDir: join(buildDir, 'cold-floor') }),
    buildLambda({ ...options, entryPoint: here('./cold-deps.ts'), outDir: join(buildDir, 'cold-libraries') }),
  ])
  // The same build, minus its cache: the entry then compiles the bundle as it would without one.
  const withoutCache = join(buildDir, 'cold-service-no-cache')
  rmSync(withoutCache, { recursive: true, force: true })
  cpSync(service.outDir, withoutCache, { recursive: true, filter: (path) => path !== `${service.bundleFile}.cache` })
  return {
    service: service.entryFile,
    floor: floor.entryFile,
    libraries: libraries.entryFile,
    empty: here('./cold-empty.mjs'),
    serviceWithoutCache: join(withoutCache, basename(service.entryFile)),
  }
}
