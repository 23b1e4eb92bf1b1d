// `npm run reprocess -- --start T --end T | --full [--slices N] [--concurrency N] | --resume TOKEN`:
// mints every work of a window of the source index, or all of it, against the configured cluster,
// through the same reprocess service as POST /reprocess and the state machines.
import cliProgress from 'cli-progress'
import pino from 'pino'
import { brotliCompressSync, brotliDecompressSync } from 'node:zlib'
import { loggerOptions } from '../src/logger.js'
import { databaseOptions } from '../src/plugins/database.js'
import { elasticsearchClients } from '../src/plugins/elasticsearch.js'
import { Deadline } from '../src/services/deadline.js'
import { describeError, InvalidCursorError, PointInTimeExpiredError } from '../src/services/errors.js'
import { openDatabase } from '../src/services/identifier-store/database.js'
import { createIdentifierStore } from '../src/services/identifier-store/store.js'
import { createMinter, type MintFailure } from '../src/services/minter.js'
import { createReprocessor, InvalidReprocessRequestError, MAX_SLICES, type ReprocessRequest, type Selection } from '../src/services/reprocess.js'
import { createWorkStore } from '../src/services/work-store.js'
import { operatorConfig, parseCommandLine, usageError as failUsage } from './cli.js'

const USAGE = `Usage: npm run reprocess -- (--start T --end T | --full) [options]
       npm run reprocess -- --resume TOKEN [--concurrency N]

  --start T          the window's start, included: ISO-8601 with a zone (2026-05-02T10:00:00Z);
                     defaults to --end less 15 minutes
  --end T            the window's end, excluded; defaults to now
  --full             every work of the source index instead of a window
  --slices N         read the selection as N slices of one sliced search (default 1, at most ${MAX_SLICES})
  --concurrency N    slices minted at a time (default: all of them)
  --job-id NAME      the jobId on every log line (default: a new UUID)
  --resume TOKEN     carry on a run that was stopped, from the token it printed
  --local            use npm run services' MariaDB and Elasticsearch for variables not set (dev and test)

Reads and writes as the service does: es_source_index, es_identified_index, the database and
every other variable as src/config.ts reads them (README.md, Configuration). A progress bar on a
terminal, a line every 5 seconds otherwise; each work that fails is logged on stderr (JSON, with
the jobId). Ctrl-C stops after the chunk in flight and prints the --resume command.
Exit codes: 0 every work minted; 1 finished, some works failed; 2 bad arguments or configuration;
3 stopped by an error (resumable unless the point in time expired); 130 stopped by Ctrl-C.`

const EXIT = { ok: 0, failures: 1, usage: 2, error: 3, interrupted: 130 } as const

const args = parseCommandLine(
  {
    start: { type: 'string' },
    end: { type: 'string' },
    full: { type: 'boolean', default: false },
    slices: { type: 'string' },
    concurrency: { type: 'string' },
    'job-id': { type: 'string' },
    resume: { type: 'string' },
    local: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  USAGE,
)
function usageError(message: string): never {
  return failUsage(message, USAGE)
}

function integer(name: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1 || value > max) usageError(`--${name} must be an integer from 1 to ${max}, not ${text}`)
  return value
}

/** Where a stopped run carries on: the job, its selection, each unfinished slice's cursor (none: not started), and the counts so far. */
interface ResumeState {
  v: 1
  jobId: string
  selection: Selection
  slices: number
  pending: Array<{ id?: number; cursor?: string }>
  done: { processed: number; successCount: number; failureCount: number }
}

// Compressed: the slices' cursors repeat one point in time's id, and a token must fit one command-line argument (128 KiB on Linux).
const encodeResume = (state: ResumeState) => `rr1.${brotliCompressSync(Buffer.from(JSON.stringify(state), 'utf8')).toString('base64url')}`

function decodeResume(token: string): ResumeState {
  try {
    const [prefix, payload] = token.split('.')
    const state = JSON.parse(brotliDecompressSync(Buffer.from(payload ?? '', 'base64url')).toString('utf8')) as ResumeState
    if (prefix === 'rr1' && state.v === 1 && Array.isArray(state.pending) && typeof state.jobId === 'string' && state.done) return state
  } catch {
    // Reported below.
  }
  usageError('--resume takes the token a stopped run printed, exactly as it printed it')
}

const slicesArg = integer('slices', args.slices, MAX_SLICES)
const concurrencyArg = integer('concurrency', args.concurrency, MAX_SLICES)
let resumed: ResumeState | undefined
if (args.resume !== undefined) {
  if (args.start !== undefined || args.end !== undefined || args.full || slicesArg !== undefined || args['job-id'] !== undefined) {
    usageError('--resume carries on the run it came from: give it alone (and --concurrency, --local if you like)')
  }
  resumed = decodeResume(args.resume)
} else if (args.full === (args.start !== undefined || args.end !== undefined)) {
  usageError('give either --start/--end (a window) or --full')
}

const config = operatorConfig(args.local)
const { source, target } = elasticsearchClients(config)
const database = openDatabase(databaseOptions(config))
const works = createWorkStore({ source, target, sourceIndex: config.es_source_index, targetIndex: config.es_identified_index, maxBulkBytes: config.BULK_MAX_BYTES })
const identifiers = createIdentifierStore({ primary: database.primaryPool, replica: database.replicaPool, ...(database.ready ? { ready: database.ready } : {}) })
const reprocessor = createReprocessor({ works, minter: createMinter({ identifiers, works }), chunkBudgetMs: config.MINT_TIMEOUT_MS })
// Failures (warn) and superseded copies (info) as JSON lines on stderr, secrets redacted as the service does.
const log = pino({ level: config.LOG_LEVEL, redact: loggerOptions(config).redact }, pino.destination({ fd: 2, sync: true }))

const out = (line = '') => process.stdout.write(`${line}\n`)
const number = (n: number) => n.toLocaleString('en-GB')
const seconds = (s: number) => (s < 60 ? `${s.toFixed(1)} s` : s < 3600 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`)
const describe = (selection: Selection) => ('full' in selection ? `all of ${config.es_source_index}` : `the window [${selection.window.startTime}, ${selection.window.endTime}) of ${config.es_source_index}`)

// Ctrl-C once: every slice stops after its chunk in flight and the run prints --resume. Twice: stop
// at once, printing --resume from the last chunk each slice finished (the chunk in flight is minted again).
const controller = new AbortController()
let bar: cliProgress.SingleBar | undefined
let state: ResumeState | undefined
process.on('SIGINT', () => {
  if (controller.signal.aborted) {
    bar?.stop()
    if (state) printResume(state)
    process.exit(EXIT.interrupted)
  }
  controller.abort()
  bar?.stop()
  bar = undefined
  process.stderr.write('\nstopping after the chunk in flight (Ctrl-C again to stop at once)\n')
})

function printResume(s: ResumeState): void {
  out(`to carry on: npm run reprocess -- --resume ${encodeResume(s)}${args.local ? ' --local' : ''}`)
}

async function main(): Promise<number> {
  let selection: Selection
  let slices: number
  let jobId: string
  if (resumed) {
    ;({ selection, slices, jobId } = resumed)
  } else {
    // The window's defaults are settled once, here: every slice, and the count, use the same instants.
    const request: ReprocessRequest = args.full ? { full: true } : { window: { ...(args.start ? { startTime: args.start } : {}), ...(args.end ? { endTime: args.end } : {}) } }
    try {
      selection = reprocessor.resolve(request).selection
    } catch (error) {
      if (error instanceof InvalidReprocessRequestError) usageError(error.message.replace(/window\.startTime/g, '--start').replace(/window\.endTime/g, '--end'))
      throw error
    }
    slices = slicesArg ?? 1
    jobId = args['job-id'] ?? `reprocess-${new Date().toISOString()}`
  }
  const concurrency = Math.min(concurrencyArg ?? slices, slices)
  const total = await reprocessor.count({ ...selection }, new Deadline(config.MINT_TIMEOUT_MS))

  if (resumed) {
    state = resumed
  } else {
    state = { v: 1, jobId, selection, slices, pending: [{}], done: { processed: 0, successCount: 0, failureCount: 0 } }
    if (slices > 1) {
      // One point in time for every slice: together they cover the selection exactly once.
      const opened = await reprocessor.reprocess({ ...selection, slices, jobId }, { deadline: new Deadline(config.MINT_TIMEOUT_MS), log })
      state.pending = Array.from({ length: slices }, (_, id) => ({ id, cursor: opened.cursor as string }))
    }
  }
  const job: ResumeState = state
  const before = { ...job.done }
  out(
    `${resumed ? 'resuming' : 'reprocessing'} ${describe(selection)}: ${number(total)} works${resumed ? `, ${number(before.processed)} done before` : ''}; ` +
      `${job.pending.length} of ${slices} slice${slices === 1 ? '' : 's'} to go, ${concurrency} at a time; job ${jobId}`,
  )

  const started = performance.now()
  let lastLine = started
  const progress = () => {
    const done = job.done.processed
    const elapsed = (performance.now() - started) / 1000
    const rate = elapsed > 0 ? (done - before.processed) / elapsed : 0
    if (bar) {
      // Works indexed after the count are in the job too.
      if (done > bar.getTotal()) bar.setTotal(done)
      bar.update(done, { rate: number(Math.round(rate)) })
    } else if (performance.now() - lastLine > 5000) {
      lastLine = performance.now()
      const eta = rate > 0 ? seconds(Math.max(0, total - done) / rate) : '–'
      out(`reprocessed ${number(done)} of ${number(total)} works (${((done / Math.max(1, total)) * 100).toFixed(1)}%), ${number(Math.round(rate))} works/s, ETA ${eta}`)
    }
  }
  // A bar only where someone watches a terminal; logs and CI get plain lines.
  if (process.stdout.isTTY) {
    bar = new cliProgress.SingleBar(
      { stream: process.stdout, format: 'reprocess [{bar}] {percentage}% | {value}/{total} works | {rate} works/s | ETA {eta_formatted}', etaBuffer: 50, fps: 5, hideCursor: true },
      cliProgress.Presets.shades_classic,
    )
    bar.start(Math.max(total, job.done.processed), job.done.processed, { rate: '–' })
  }

  const failures: MintFailure[] = []
  const errors: Array<{ slice?: number; error: unknown }> = []
  const queue = [...job.pending]
  const runSlice = async (entry: ResumeState['pending'][number]) => {
    const request: ReprocessRequest = {
      ...selection,
      ...(entry.id !== undefined ? { slice: { id: entry.id, max: slices } } : {}),
      ...(entry.cursor ? { cursor: entry.cursor } : {}),
      jobId,
    }
    const answer = await reprocessor.reprocess(request, {
      deadline: Deadline.unlimited(),
      signal: controller.signal,
      log,
      onChunk: (chunk) => {
        entry.cursor = chunk.cursor
        job.done.processed += chunk.works
        job.done.successCount += chunk.successCount
        job.done.failureCount += chunk.failureCount
        progress()
      },
    })
    for (const failure of answer.failures) if (failures.length < 10) failures.push(failure)
    if (answer.cursor) entry.cursor = answer.cursor
    else job.pending = job.pending.filter((e) => e !== entry)
  }
  const worker = async () => {
    for (let entry = queue.shift(); entry && !controller.signal.aborted; entry = queue.shift()) {
      try {
        await runSlice(entry)
      } catch (error) {
        errors.push({ ...(entry.id !== undefined ? { slice: entry.id } : {}), error })
        // The other slices stop cleanly too: the run is resumed as a whole.
        controller.abort()
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  bar?.stop()
  bar = undefined

  const elapsed = (performance.now() - started) / 1000
  const thisRun = job.done.processed - before.processed
  out(
    `this run: ${number(thisRun)} works in ${seconds(elapsed)} (${number(Math.round(thisRun / Math.max(elapsed, 0.001)))} works/s); ` +
      `the job so far: ${number(job.done.processed)} works processed, ${number(job.done.successCount)} minted, ${number(job.done.failureCount)} failed`,
  )
  for (const failure of failures) out(`  failed: ${failure.sourceIdentifier}: ${failure.error}`)
  if (job.done.failureCount > failures.length) out(`  (every failure is logged on stderr with jobId ${jobId})`)

  if (errors.length > 0) {
    for (const { slice, error } of errors) process.stderr.write(`${slice === undefined ? '' : `slice ${slice}: `}${describeError(error)}\n`)
    const fatal = errors.some(({ error }) => error instanceof PointInTimeExpiredError || error instanceof InvalidCursorError)
    if (fatal) out('the job cannot carry on from here: run it again without --resume (works minted again keep their IDs)')
    else printResume(job)
    return EXIT.error
  }
  if (job.pending.length > 0) {
    out('stopped after the chunk in flight')
    printResume(job)
    return EXIT.interrupted
  }
  out(job.done.failureCount === 0 ? `done: every work in ${describe(selection)} minted` : `done: ${number(job.done.failureCount)} ${job.done.failureCount === 1 ? 'work' : 'works'} failed to mint`)
  return job.done.failureCount === 0 ? EXIT.ok : EXIT.failures
}

try {
  process.exitCode = await main()
} catch (error) {
  bar?.stop()
  process.stderr.write(`reprocess failed: ${describeError(error)}\n`)
  if (state && !(error instanceof PointInTimeExpiredError || error instanceof InvalidCursorError)) printResume(state)
  process.exitCode = EXIT.error
} finally {
  await Promise.all([source.close(), target.close(), database.close()]).catch(() => {})
}
