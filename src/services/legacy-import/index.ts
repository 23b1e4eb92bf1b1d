import { openDatabase, type DatabaseOptions } from '../identifier-store/database.js'
import { createIdentifierStore } from '../identifier-store/store.js'
import { checkLegacy, type CheckReport } from './checks.js'
import { copyLegacy, ensureBookkeeping, readConflicts, startPass, type PassCounts, type Progress } from './copy.js'
import { describeLayout, describeSource, detectLayout, openSource, type LegacyLayout, type LegacySource } from './source.js'
import { verifyImport, type Verification } from './verify.js'

export { parseSource, describeSource, type LegacySource } from './source.js'

export interface ImportOptions {
  source: LegacySource
  /** Our database (databaseOptions(config)); it is created and migrated when missing. */
  target: DatabaseOptions
  /** Legacy rows per batch and per transaction (default 5000). */
  batchSize?: number
  /** Legacy rows drawn for the final look-up through the identifier store (default 1000). */
  sampleSize?: number
  /** Start a new pass even if an earlier run left one unfinished. */
  restart?: boolean
  /** Aborting stops the import after the batch in flight has committed; a later run resumes. */
  signal?: AbortSignal
  onEvent?: (event: ImportEvent) => void
}

export type ImportEvent =
  | { kind: 'layout'; layout: LegacyLayout; description: string }
  | { kind: 'checked'; checks: CheckReport }
  | { kind: 'copying'; progress: Progress; rowsTotal: number }
  | { kind: 'batch'; progress: Progress; rowsTotal: number }
  | { kind: 'verifying' }

export interface ImportResult {
  /**
   * `checks-failed`: nothing was written. `interrupted`: stopped after a committed batch; run again
   * to continue. `finished`: every legacy row was read; `verification.holds` says whether all is here.
   */
  status: 'checks-failed' | 'interrupted' | 'finished'
  source: string
  layout: LegacyLayout
  checks: CheckReport
  counts?: PassCounts
  /** Whether this run continued an unfinished pass. */
  resumed?: boolean
  conflicts?: { count: number; examples: string[] }
  verification?: Verification
  /** Wall time of each phase, in seconds. */
  seconds: { checks: number; copy?: number; verification?: number; total: number }
}

/**
 * Imports a legacy identifiers table into ours: detects the layout, runs the pre-write checks
 * (stopping before any write if one fails), copies in resumable keyset batches, then verifies.
 * Throws on a connection or SQL error (a later run resumes from the last committed batch).
 */
export async function importLegacyIdentifiers(options: ImportOptions): Promise<ImportResult> {
  const started = performance.now()
  const elapsed = () => (performance.now() - started) / 1000
  const { source, onEvent } = options
  const sourceName = describeSource(source)
  if (source.database === options.target.database && [options.target.host, 'localhost', '127.0.0.1'].includes(source.host) && source.port === options.target.port) {
    throw new Error(`the legacy source ${sourceName} is the target database itself`)
  }
  const legacy = openSource(source)
  // One connection writes the batches; the other answers the verification's look-ups.
  const database = openDatabase({ ...options.target, replicaHost: undefined, connectionLimit: 2, applyMigrations: true })
  try {
    const layout = await detectLayout(legacy, source)
    onEvent?.({ kind: 'layout', layout, description: describeLayout(layout) })
    const checks = await checkLegacy(legacy, layout)
    onEvent?.({ kind: 'checked', checks })
    const base = { source: sourceName, layout, checks }
    if (checks.failures.length > 0) return { ...base, status: 'checks-failed', seconds: { checks: checks.seconds, total: elapsed() } }

    await database.applyMigrations()
    await ensureBookkeeping(database.primaryPool)
    const progress = await startPass(database.primaryPool, sourceName, options.restart)
    const rowsTotal = checks.rows + checks.unusedCanonicalIds
    onEvent?.({ kind: 'copying', progress, rowsTotal })
    const copyStarted = performance.now()
    const outcome = await copyLegacy({
      legacy,
      target: database.primaryPool,
      layout,
      progress,
      batchSize: options.batchSize ?? 5000,
      ...(options.signal ? { signal: options.signal } : {}),
      onBatch: (p) => onEvent?.({ kind: 'batch', progress: p, rowsTotal }),
    })
    const copySeconds = (performance.now() - copyStarted) / 1000
    const conflicts = await readConflicts(database.primaryPool, sourceName)
    const done = { ...base, counts: progress.counts, resumed: progress.resumed, conflicts }
    if (outcome === 'interrupted') return { ...done, status: 'interrupted', seconds: { checks: checks.seconds, copy: copySeconds, total: elapsed() } }

    onEvent?.({ kind: 'verifying' })
    const verification = await verifyImport({
      legacy,
      target: database.primaryPool,
      layout,
      checks,
      counts: progress.counts,
      store: createIdentifierStore({ primary: database.primaryPool }),
      sampleSize: options.sampleSize ?? 1000,
    })
    return { ...done, status: 'finished', verification, seconds: { checks: checks.seconds, copy: copySeconds, verification: verification.seconds, total: elapsed() } }
  } finally {
    await Promise.all([legacy.end(), database.close()])
  }
}
