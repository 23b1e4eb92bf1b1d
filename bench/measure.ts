import { fork } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startFloor, startLambda, startService } from './children.js'
import { addDeltas, type CounterDelta, type ServerCounters } from './counters.js'
import { createStores, dropStores, freshStores, seedKnown, seedWorks, serviceEnvironment, storedCounts, type Admin, type Stores } from './environment.js'
import type { FloorCounters } from './floor.js'
import { median, runBatches, summarise, type LoadResult } from './load.js'
import type { ColdStartResult, Iteration, LambdaResult, Mode, PerRequest, SideResult, SingleResult, WorkloadResult } from './report.js'
import type { ServiceCounters } from './service-child.js'
import { BATCH_SIZE, generatePass, WORKLOADS, type Workload, type WorkloadPass } from './workloads.js'

export interface Context {
  admin: Admin
  counters: ServerCounters
  quick: boolean
  iterations: number
  logLevel: string
  profileDir?: string
  verbose: boolean
  lambdaBundle?: string
  progress(message: string): void
  /** Every child alive, so an interrupted run can stop them. */
  children: Set<{ kill(): void }>
}

interface Side {
  run(batches: string[][], concurrency: number): Promise<LoadResult>
  counters(): Promise<{ sqlStatements: number; esRequests: number; cpuMs: number; handlingMs?: number[] }>
}

const CONCURRENCY: Record<Mode, number> = { sequential: 1, concurrent: 4 }

/** POSTs one batch to the service; anything but every work minted is an error. */
async function postMint(url: string, sourceIdentifiers: string[]): Promise<void> {
  const response = await fetch(`${url}/mint`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sourceIdentifiers }),
  })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`POST /mint answered ${response.status}: ${text.slice(0, 500)}`)
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
  const load = await side.run(pass.batches, concurrency)
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

function sideResult(iterations: Array<Iteration & { handlingMs: number[] }>, rss: { startup: number; peak: number }, withHandling: boolean): SideResult {
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
    perRequest: perRequest(total, requests),
    noisy,
    quietIterations: iterations.filter(quiet).length,
    startupRssBytes: rss.startup,
    peakRssBytes: rss.peak,
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
  // peak RSS counts the warm-up too).
  const warmBatches = Math.max(ctx.quick ? 1 : 3, Math.min(concurrency, Math.ceil(count / BATCH_SIZE)))
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
  const env = (s: Stores) => ({ env: serviceEnvironment(s, ctx.logLevel), verbose: ctx.verbose })
  ctx.progress(`${label}: preparing ${stores.service.database} (service) and ${stores.floor.database} (floor), ${passes.reduce((n, p) => n + p.works.length, 0)} works each`)
  const service = track(ctx, startService(env(stores.service)))
  const floor = track(ctx, startFloor(env(stores.floor)))
  try {
    const [ready, floorReady] = await Promise.all([service.ready, floor.ready, prepare(ctx, stores.service, passes), prepare(ctx, stores.floor, passes)])
    const sides: Record<'service' | 'floor', Side> = {
      service: {
        run: (batches, c) => runBatches(batches, c, (batch) => postMint(ready.url, batch)),
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

    if (ctx.profileDir) {
      mkdirSync(ctx.profileDir, { recursive: true })
      await service.call('profileStop', join(ctx.profileDir, `${workload.name}-${mode}-service.cpuprofile`))
      await floor.call('profileStop', join(ctx.profileDir, `${workload.name}-${mode}-floor.cpuprofile`))
    }
    const [serviceFinal, floorFinal] = await Promise.all([service.close<ServiceCounters>(), floor.close<FloorCounters>()])
    const [serviceStored, floorStored] = await Promise.all([storedCounts(ctx.admin, stores.service), storedCounts(ctx.admin, stores.floor)])
    expectStored(`${label} service`, serviceStored, passes)
    expectStored(`${label} floor`, floorStored, passes)

    result.service = sideResult(measured.service, { startup: ready.rssBytes, peak: serviceFinal?.maxRssBytes ?? Number.NaN }, true)
    result.floor = sideResult(measured.floor, { startup: floorReady.rssBytes, peak: floorFinal?.maxRssBytes ?? Number.NaN }, false)
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
  const service = track(ctx, startService({ env: serviceEnvironment(stores, ctx.logLevel), verbose: ctx.verbose }))
  try {
    const [ready] = await Promise.all([service.ready, prepare(ctx, stores, passes)])
    const side: Side = {
      run: (b, c) => runBatches(b, c, (batch) => postMint(ready.url, batch)),
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

const root = fileURLToPath(new URL('..', import.meta.url))

/** The esbuild bundle of src/lambda.ts, if `npm run build:lambda` has made one. */
export function findLambdaBundle(explicit?: string): string | undefined {
  if (explicit) return resolve(explicit)
  const dir = join(root, 'dist', 'lambda')
  if (!existsSync(dir)) return undefined
  const files = readdirSync(dir).filter((f) => /\.(m?js)$/.test(f))
  const file = ['index.mjs', 'index.js', 'lambda.mjs', 'lambda.js'].find((f) => files.includes(f)) ?? files[0]
  return file ? join(dir, file) : undefined
}

/** Cold start: fresh processes (plain node) import the bundle and answer their first event. */
export async function measureColdStart(ctx: Context): Promise<ColdStartResult> {
  const bundle = findLambdaBundle(ctx.lambdaBundle)
  if (!bundle || !existsSync(bundle)) return { measured: false, reason: 'not measured: run npm run build:lambda first' }
  const samples = ctx.quick ? 3 : 7
  const workload = WORKLOADS['all-new']
  const passes = Array.from({ length: samples }, (_, i) => generatePass(workload, i + 1, BATCH_SIZE))
  const stores = freshStores()
  ctx.progress(`cold start: ${samples} fresh processes importing ${bundle}`)
  try {
    // A deployed function finds its schema in place; the migration check still runs at start-up.
    await prepare(ctx, stores, passes)
    const { MIGRATIONS_FOLDER: _, ...env } = serviceEnvironment(stores, ctx.logLevel)
    const results: Extract<ColdStartResult, { samples: unknown }>['samples'] = []
    for (const pass of passes) {
      const started = performance.now()
      const child = fork(fileURLToPath(new URL('./cold-start.mjs', import.meta.url)), [bundle], {
        env: { ...process.env, ...env, AWS_LAMBDA_FUNCTION_NAME: 'id-minter-bench', BENCH_EVENT: JSON.stringify({ sourceIdentifiers: pass.batches[0] }) },
        execArgv: [],
        stdio: ['ignore', ctx.verbose ? 'inherit' : 'ignore', 'pipe', 'ipc'],
      })
      let stderr = ''
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
      const report = await new Promise<Record<string, number>>((resolvePromise, reject) => {
        child.once('message', (message) => resolvePromise(message as Record<string, number>))
        child.once('exit', (code) => reject(new Error(`cold-start process exited with ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`)))
      })
      const spawnToResponseMs = performance.now() - started
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)))
      if (report.failures !== 0) throw new Error(`cold-start event: ${report.failures} failures`)
      results.push({
        bootMs: report.bootMs as number,
        importMs: report.importMs as number,
        invokeMs: report.invokeMs as number,
        firstResponseMs: report.firstResponseMs as number,
        spawnToResponseMs,
        maxRssBytes: report.maxRssBytes as number,
      })
    }
    const result = {
      measured: true as const,
      bundle,
      samples: results,
      importMs: median(results.map((r) => r.importMs)),
      firstResponseMs: median(results.map((r) => r.firstResponseMs)),
      spawnToResponseMs: median(results.map((r) => r.spawnToResponseMs)),
      eventWorks: BATCH_SIZE,
    }
    ctx.progress(`cold start: first response ${result.firstResponseMs.toFixed(0)} ms after process start (import ${result.importMs.toFixed(0)} ms)`)
    return result
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    ctx.progress(`cold start: FAILED: ${message}`)
    return { measured: true, bundle, error: message }
  } finally {
    await dropStores(ctx.admin, stores).catch(() => {})
  }
}
