// `npm run db:import -- --source mysql://user:password@host:port/database [--table identifiers]`:
// copies a legacy identifiers table into IDENTIFIERS_DATABASE (configured as for db:migrate).
import cliProgress from 'cli-progress'
import { databaseOptions } from '../src/plugins/database.js'
import { importLegacyIdentifiers, parseSource, type ImportEvent, type ImportResult } from '../src/services/legacy-import/index.js'
import { operatorDatabaseConfig, parseCommandLine, usageError as failUsage } from './cli.js'

const USAGE = `Usage: npm run db:import -- --source mysql://user:password@host:port/database [options]

  --source URL       the legacy database (required)
  --table NAME       the legacy mapping table (default identifiers); a canonical_ids table
                     beside it makes it the two-table layout
  --batch-size N     legacy rows per batch and transaction (default 5000)
  --sample N         legacy rows looked up through the identifier store at the end (default 1000)
  --restart          start a new pass even if an earlier run left one unfinished
  --local            use npm run services' MariaDB for database variables not set (dev and test)

The target is IDENTIFIERS_DATABASE on cluster_url, as for npm run db:migrate: a missing variable
stops the command.
Exit codes: 0 imported and verified; 1 conflicts, a failed verification or an error;
2 bad arguments; 3 a pre-write check failed (nothing written); 130 stopped by Ctrl-C (run again to resume).`

const EXIT = { ok: 0, failed: 1, usage: 2, checksFailed: 3, interrupted: 130 } as const

const args = parseCommandLine(
  {
    source: { type: 'string' },
    table: { type: 'string', default: 'identifiers' },
    'batch-size': { type: 'string', default: '5000' },
    sample: { type: 'string', default: '1000' },
    restart: { type: 'boolean', default: false },
    local: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  USAGE,
)
function usageError(message: string): never {
  return failUsage(message, USAGE)
}

function positiveInteger(name: string, text: string, allowZero = false): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) usageError(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, not ${text}`)
  return value
}

if (!args.source) usageError('--source is required')
let source: ReturnType<typeof parseSource>
try {
  source = parseSource(args.source, args.table)
} catch (error) {
  usageError((error as Error).message)
}
const batchSize = positiveInteger('batch-size', args['batch-size'])
const sampleSize = positiveInteger('sample', args.sample, true)
const config = operatorDatabaseConfig(args.local)

const out = (line = '') => process.stdout.write(`${line}\n`)
const number = (n: number) => n.toLocaleString('en-GB')
const seconds = (s: number) => (s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`)

// Ctrl-C once: finish the batch in flight, then stop (resumable). Twice: stop at once; the open
// transaction is rolled back by the server, so that is resumable too.
const controller = new AbortController()
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(EXIT.interrupted)
  controller.abort()
  bar?.stop()
  process.stderr.write('\nstopping after the batch in flight (Ctrl-C again to stop at once)\n')
})

let bar: cliProgress.SingleBar | undefined
let lastLog = 0
let phaseStart = { at: 0, rows: 0 }

/** Rows done in the whole pass (both phases), and the rate since this run started copying. */
function rowsDone(event: Extract<ImportEvent, { kind: 'batch' | 'copying' }>): number {
  const counts = event.progress.counts
  return Object.values(counts.byType).reduce((sum, t) => sum + t.rows, 0) + counts.unusedIds.rows
}

function onEvent(event: ImportEvent): void {
  switch (event.kind) {
    case 'layout':
      out(`legacy source: ${event.description}`)
      break
    case 'checked':
      printChecks(event.checks)
      break
    case 'copying': {
      const done = rowsDone(event)
      phaseStart = { at: performance.now(), rows: done }
      out(event.progress.resumed ? `resuming the unfinished import at ${number(done)} of ${number(event.rowsTotal)} rows` : `copying ${number(event.rowsTotal)} rows in batches of ${number(batchSize)}`)
      // A bar only where someone watches a terminal; logs and CI get plain lines.
      if (process.stdout.isTTY) {
        bar = new cliProgress.SingleBar(
          { stream: process.stdout, format: 'copying [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted}', etaBuffer: 50, fps: 5, hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
        bar.start(event.rowsTotal, done, { rate: '–' })
      }
      break
    }
    case 'batch': {
      const done = rowsDone(event)
      const elapsed = (performance.now() - phaseStart.at) / 1000
      const rate = elapsed > 0 ? (done - phaseStart.rows) / elapsed : 0
      if (bar) bar.update(done, { rate: number(Math.round(rate)) })
      else if (performance.now() - lastLog > 5000) {
        lastLog = performance.now()
        const eta = rate > 0 ? seconds((event.rowsTotal - done) / rate) : '–'
        out(`copied ${number(done)} of ${number(event.rowsTotal)} rows (${((done / Math.max(1, event.rowsTotal)) * 100).toFixed(1)}%), ${number(Math.round(rate))} rows/s, ETA ${eta}`)
      }
      break
    }
    case 'verifying':
      bar?.stop()
      bar = undefined
      out('verifying')
      break
  }
}

function printChecks(checks: ImportResult['checks']): void {
  out(`checks: ${number(checks.rows)} legacy rows in ${seconds(checks.seconds)}${checks.unusedCanonicalIds ? `, and ${number(checks.unusedCanonicalIds)} canonical IDs given out that no key uses` : ''}`)
  for (const finding of checks.failures) {
    out(`  FAILED ${finding.check}: ${number(finding.count)} ${finding.message}`)
    for (const example of finding.examples) out(`    e.g. ${example}`)
  }
  for (const finding of checks.notices) {
    out(`  note ${finding.check}: ${number(finding.count)} ${finding.message}`)
    for (const example of finding.examples) out(`    e.g. ${example}`)
  }
}

function printResult(result: ImportResult): number {
  if (result.status === 'checks-failed') {
    out('nothing was written: the legacy rows above cannot be imported as they are')
    return EXIT.checksFailed
  }
  const counts = result.counts
  if (counts) {
    const copied = result.seconds.copy ?? 0
    const rows = Object.values(counts.byType).reduce((sum, t) => sum + t.rows, 0)
    out(`this pass: ${number(rows)} legacy rows read; ${number(counts.imported)} mappings imported, ${number(counts.present)} already here` + (counts.unusedIds.rows ? `; ${number(counts.unusedIds.registered)} unused canonical IDs registered` : '') + ` (this run copied for ${seconds(copied)})`)
  }
  if (result.conflicts && result.conflicts.count > 0) {
    out(`conflicts: ${number(result.conflicts.count)}, none overwritten (all in ${config.IDENTIFIERS_DATABASE}.legacy_import_conflicts)`)
    for (const example of result.conflicts.examples) out(`  e.g. ${example}`)
  }
  if (result.status === 'interrupted') {
    out('stopped after a committed batch: run the same command again to continue')
    return EXIT.interrupted
  }
  const v = result.verification
  if (!v) return EXIT.failed
  out(`verification (${seconds(v.seconds)}):`)
  out('  ontology type | legacy rows | keys they make | rows here | confirmed by the import | conflicts')
  for (const t of v.byType) out(`  ${t.type} | ${number(t.legacyRows)} | ${number(t.legacyKeys)} | ${number(t.here)} | ${number(t.confirmed)} | ${number(t.conflicts)}`)
  if (v.unusedIds) out(`  canonical IDs no key uses: ${number(v.unusedIds.legacy)} in the legacy table, ${number(v.unusedIds.registered)} registered here`)
  out(`  sample: ${number(v.sample.matched)} of ${number(v.sample.size)} legacy keys drawn at random found through the identifier store with their legacy canonical ID`)
  for (const problem of v.problems) out(`  PROBLEM ${problem}`)
  out(v.holds ? `imported and verified in ${seconds(result.seconds.total)}` : 'the verification does not hold')
  return v.holds ? EXIT.ok : EXIT.failed
}

try {
  const result = await importLegacyIdentifiers({
    source,
    target: databaseOptions(config),
    batchSize,
    sampleSize,
    restart: args.restart,
    signal: controller.signal,
    onEvent,
  })
  bar?.stop()
  process.exitCode = printResult(result)
} catch (error) {
  bar?.stop()
  process.stderr.write(`import failed: ${error instanceof Error ? error.message : String(error)}\nrun the same command again to continue from the last committed batch\n`)
  process.exitCode = EXIT.failed
}
