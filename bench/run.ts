/**
 * `npm run bench`: the id minter against the local MariaDB and Elasticsearch, beside a floor that
 * does only the unavoidable work. Prints Markdown to stdout, progress to stderr, and writes the raw
 * figures to bench/results/<timestamp>.json. `--help` lists the options.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { buildChildren, productionNodeFlags } from './children.js'
import { ServerCounters } from './counters.js'
import { closeAdmin, describeMachine, openAdmin } from './environment.js'
import { DEFAULT_IMPORT_ROWS, measureImport, QUICK_IMPORT_ROWS } from './import.js'
import { measureLookup } from './lookup.js'
import { measureSqs } from './sqs.js'
import { DEFAULT_REPROCESS_WORKS, measureReprocess, QUICK_REPROCESS_WORKS } from './reprocess.js'
import { measureScale } from './scale.js'
import { measureColdStart, measureLambda, measureSingle, runWorkload, type Context } from './measure.js'
import { renderProfile, summariseProfiles } from './profile.js'
import { evaluateTargets, renderMarkdown, type BenchResults, type Mode } from './report.js'
import { WORKLOAD_NAMES, WORKLOADS, type WorkloadName } from './workloads.js'

const EXTRAS = ['single-request', 'lambda', 'sqs', 'cold-start'] as const
/** Run only when named: the import and the look-ups fill millions of rows (minutes, gigabytes). */
const OPT_IN = ['import', 'lookup', 'reprocess', 'scale'] as const
const DEFAULT = [...WORKLOAD_NAMES, ...EXTRAS] as const
const ALL = [...DEFAULT, ...OPT_IN] as const
type Name = (typeof ALL)[number]

const USAGE = `Usage: npm run bench -- [options]

  --workload NAME     run only these (repeatable, or a comma list); default all of:
                      ${WORKLOAD_NAMES.join(', ')},
                      ${EXTRAS.join(', ')};
                      and only when named: import (npm run db:import against INSERT … SELECT),
                      lookup (the look-up API at --rows mappings and on an empty table),
                      reprocess (a full reprocess of --works works, 1 slice and 4, against a floor),
                      scale (POST /mint at --rows mappings against an empty table, and EXPLAIN)
  --rows N            legacy rows for the import workload, mappings for the lookup and scale workloads (default ${DEFAULT_IMPORT_ROWS}; ${QUICK_IMPORT_ROWS} with --quick)
  --works N           works in the reprocess workload's source index (default ${DEFAULT_REPROCESS_WORKS}; ${QUICK_REPROCESS_WORKS} with --quick);
                      its iterations are 1 unless --iterations is given
  --iterations N      measured passes per workload and mode (default 10; 1 with --quick)
  --quick             fewer works and passes: done in under a minute
  --profile           CPU-profile the service and the floor during the measured passes into
                      bench/results/profiles-<time>/ and print where the time went
                      (tsx bench/profile.ts <dir> summarises them again)
  --heap-profile      sample the allocations (collected ones included) of the service and the
                      floor during the measured passes into bench/results/heap-<time>/
                      (.heapprofile files: Chrome DevTools, Memory tab)
  --lambda-bundle F   the Lambda entry to cold-start (default: this checkout, built by the bench
                      as npm run build:lambda builds it)
  --service-node-flags "FLAGS"
                      node flags for the service (default: those of package.json's start
                      script, as production runs it; "" for none). The floor runs without.
  --log-level LEVEL   LOG_LEVEL of the service (default info, as deployed)
  --client http|fetch how the bench sends POST /mint (default http: node:http with keep-alive;
                      fetch costs the bench process more CPU on the machine the service shares)
  --verbose           show the children's output
`

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      workload: { type: 'string', multiple: true },
      iterations: { type: 'string' },
      rows: { type: 'string' },
      works: { type: 'string' },
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'heap-profile': { type: 'boolean', default: false },
      'lambda-bundle': { type: 'string' },
      'service-node-flags': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      client: { type: 'string', default: 'http' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  const selected = (values.workload ?? [...DEFAULT]).flatMap((w) => w.split(',')).map((w) => w.trim()).filter(Boolean)
  for (const name of selected) {
    if (!(ALL as readonly string[]).includes(name)) throw new Error(`unknown workload "${name}"; choose from ${ALL.join(', ')}`)
  }
  const iterations = values.iterations === undefined ? (values.quick ? 1 : 10) : Number(values.iterations)
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`--iterations must be a positive integer, not ${values.iterations}`)
  const rows = values.rows === undefined ? (values.quick ? QUICK_IMPORT_ROWS : DEFAULT_IMPORT_ROWS) : Number(values.rows)
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`--rows must be a positive integer, not ${values.rows}`)
  const works = values.works === undefined ? (values.quick ? QUICK_REPROCESS_WORKS : DEFAULT_REPROCESS_WORKS) : Number(values.works)
  if (!Number.isInteger(works) || works < 1) throw new Error(`--works must be a positive integer, not ${values.works}`)
  if (values.client !== 'http' && values.client !== 'fetch') throw new Error(`--client must be http or fetch, not ${values.client}`)
  return {
    selected: new Set(selected as Name[]),
    iterations,
    rows,
    works,
    // A full reprocess takes minutes: once, unless asked for more.
    reprocessIterations: values.iterations === undefined ? 1 : iterations,
    quick: values.quick,
    profile: values.profile,
    heapProfile: values['heap-profile'],
    lambdaBundle: values['lambda-bundle'],
    serviceNodeFlags: values['service-node-flags'] === undefined ? productionNodeFlags() : values['service-node-flags'].split(/\s+/).filter(Boolean),
    logLevel: values['log-level'],
    client: values.client as 'http' | 'fetch',
    verbose: values.verbose,
  }
}

class Interrupted extends Error {}

async function main(): Promise<number> {
  let options: ReturnType<typeof parseOptions>
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  const started = new Date()
  const stamp = started.toISOString().replace(/[:.]/g, '-')
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))
  const profileDir = options.profile ? `${resultsDir}profiles-${stamp}` : undefined
  const heapProfileDir = options.heapProfile ? `${resultsDir}heap-${stamp}` : undefined
  mkdirSync(resultsDir, { recursive: true })

  const t0 = performance.now()
  const progress = (message: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${message}\n`)

  const admin = await openAdmin()
  const counters = new ServerCounters(admin)
  const ctx: Context = {
    admin,
    counters,
    quick: options.quick,
    iterations: options.iterations,
    logLevel: options.logLevel,
    client: options.client,
    verbose: options.verbose,
    serviceNodeFlags: options.serviceNodeFlags,
    progress,
    children: new Set(),
    ...(profileDir ? { profileDir } : {}),
    ...(heapProfileDir ? { heapProfileDir } : {}),
    ...(options.lambdaBundle ? { lambdaBundle: options.lambdaBundle } : {}),
  }
  // On an interrupt the children are stopped, the measurement in progress fails, and the
  // finally below drops every store still there.
  let interrupted = false
  const interrupt = () => {
    interrupted = true
    process.stderr.write('\ninterrupted: stopping the children and dropping the bench stores\n')
    for (const child of ctx.children) child.kill()
  }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  const check = () => {
    if (interrupted) throw new Interrupted()
  }

  try {
    const machine = await describeMachine(admin)
    progress(`${machine.cpu}, ${machine.cores} cores; Node ${machine.node}, MariaDB ${machine.mariadb}, Elasticsearch ${machine.elasticsearch}`)
    await counters.calibrate()
    await buildChildren()

    const workloads = []
    for (const name of WORKLOAD_NAMES) {
      if (!options.selected.has(name)) continue
      for (const mode of ['sequential', 'concurrent'] as Mode[]) {
        check()
        workloads.push(await runWorkload(ctx, WORKLOADS[name as WorkloadName], mode))
      }
    }
    check()
    const single = options.selected.has('single-request') ? await measureSingle(ctx) : undefined
    check()
    const lambda = options.selected.has('lambda') ? await measureLambda(ctx) : undefined
    check()
    const coldStart = options.selected.has('cold-start') ? await measureColdStart(ctx) : undefined
    check()
    const importer = options.selected.has('import') ? await measureImport(ctx, options.rows) : undefined
    check()
    const lookup = options.selected.has('lookup') ? await measureLookup(ctx, options.rows) : undefined
    check()
    const sqs = options.selected.has('sqs') ? await measureSqs(ctx) : undefined
    check()
    const reprocess = options.selected.has('reprocess') ? await measureReprocess(ctx, options.works, options.reprocessIterations) : undefined
    check()
    const scale = options.selected.has('scale') ? await measureScale(ctx, options.rows) : undefined
    check()

    machine.loadAverage.end = Math.round((os.loadavg()[0] ?? 0) * 100) / 100
    const partial: Omit<BenchResults, 'targets'> = {
      startedAt: started.toISOString(),
      durationSeconds: Math.round((performance.now() - t0) / 100) / 10,
      options: { quick: options.quick, iterations: options.iterations, rows: options.rows, works: options.works, workloads: [...options.selected], logLevel: options.logLevel, profile: options.profile, client: options.client, serviceNodeFlags: options.serviceNodeFlags },
      machine,
      workloads,
      ...(single ? { single } : {}),
      ...(lambda ? { lambda } : {}),
      ...(coldStart ? { coldStart } : {}),
      ...(importer ? { importer } : {}),
      ...(lookup ? { lookup } : {}),
      ...(sqs ? { sqs } : {}),
      ...(reprocess ? { reprocess } : {}),
      ...(scale ? { scale } : {}),
    }
    const results: BenchResults = { ...partial, targets: evaluateTargets(partial) }
    const file = `${resultsDir}${stamp}.json`
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
    process.stdout.write(renderMarkdown(results))
    progress(`raw figures: ${file}`)
    if (profileDir && existsSync(profileDir)) {
      for (const summary of summariseProfiles(profileDir)) process.stderr.write(`\n${renderProfile(summary)}\n`)
    }
    progress(`done in ${results.durationSeconds} s`)
    const failed = workloads.some((w) => w.error) || single?.error || lambda?.error || (coldStart && 'error' in coldStart) || importer?.error || lookup?.error || sqs?.error || reprocess?.error || scale?.error
    return failed ? 1 : 0
  } catch (error) {
    if (error instanceof Interrupted) return 130
    throw error
  } finally {
    for (const child of ctx.children) child.kill()
    await closeAdmin(admin)
  }
}

process.exitCode = await main()
