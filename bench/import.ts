/**
 * `--workload import`: `npm run db:import` on a legacy table of `--rows` rows (the Scala pipeline's
 * layout, latin1), beside an INSERT … SELECT of the same rows into our two tables on the same
 * server, in the same run. Both start from a freshly migrated target; the legacy table is shared.
 */
import { randomBytes } from 'node:crypto'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import { localEnv } from '../fixtures/local-env.js'
import { CANONICAL_ID_LENGTH } from '../src/services/canonical-id.js'
import { openDatabase, type DatabaseOptions } from '../src/services/identifier-store/database.js'
import { importLegacyIdentifiers } from '../src/services/legacy-import/index.js'
import { CONCEPT_SUBTYPES } from '../src/services/work-identifiers.js'
import type { Context } from './measure.js'

export interface ImportBenchResult {
  rows: number
  server: 'mariadb' | 'mysql'
  fillSeconds: number
  importer?: {
    seconds: number
    checksSeconds: number
    copySeconds: number
    verificationSeconds: number
    rowsPerSecond: number
    copyRowsPerSecond: number
    verified: boolean
    batchSize: number
  }
  insertSelect?: { seconds: number; canonicalIdsSeconds: number; identifiersSeconds: number; rowsPerSecond: number }
  /** Import rows/s (the whole command: checks, copy, verification) ÷ INSERT … SELECT rows/s. */
  ratio?: number
  /** The copy phase alone against INSERT … SELECT. */
  copyRatio?: number
  error?: string
}

export const DEFAULT_IMPORT_ROWS = 10_000_000
export const QUICK_IMPORT_ROWS = 200_000
const BATCH_SIZE = 5000

const LETTERS = 'abcdefghjkmnpqrstuvwxyz'
const ALPHABET = `${LETTERS}23456789`
// A bijection from row numbers to canonical IDs: n -> (n * P + C) mod M, with P prime to M, read as
// one letter and seven alphabet digits. Distinct IDs without a look-up, scattered like drawn ones.
const M = LETTERS.length * ALPHABET.length ** (CANONICAL_ID_LENGTH - 1)
const P = 1_000_000_007
const C = 12_345

/** A derived table `s(seq)` of 1..rows: MariaDB's SEQUENCE engine, or a recursive CTE on MySQL 8. */
function sequence(server: ImportBenchResult['server'], rows: number): string {
  if (server === 'mariadb') return `(SELECT seq FROM seq_1_to_${rows}) s`
  return `(WITH RECURSIVE d (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 999)
            SELECT a.n * 1000000 + b.n * 1000 + c.n + 1 AS seq FROM d a CROSS JOIN d b CROSS JOIN d c
             WHERE a.n * 1000000 + b.n * 1000 + c.n < ${rows}) s`
}

function canonicalIdOf(x: string): string {
  const digits = [`SUBSTRING('${LETTERS}', ${x} DIV ${ALPHABET.length ** 7} + 1, 1)`]
  for (let i = 6; i >= 0; i--) digits.push(`SUBSTRING('${ALPHABET}', (${x} DIV ${ALPHABET.length ** i}) MOD ${ALPHABET.length} + 1, 1)`)
  return `CONCAT(${digits.join(', ')})`
}

// Ten kinds of row, as a catalogue has them: works, items and images from three systems, concepts
// under their subtypes, a tenth with latin1 text beyond ASCII.
const KINDS: Array<[type: string, system: string, prefix: string]> = [
  ['Work', 'sierra-system-number', 'b'],
  ['Work', 'miro-image-number', 'V'],
  ['Work', 'calm-record-id', 'c5a1e2f0-'],
  ['Item', 'sierra-system-number', 'i'],
  ['Item', 'sierra-system-number', 'i0'],
  ['Image', 'miro-image-number', 'L'],
  ['Person', 'lc-names', 'n'],
  ['Concept', 'lc-subjects', 'sh'],
  ['Subject', 'lc-subjects', 'sh-s'],
  ['Work', 'calm-record-id', 'Résumé-€-'],
]

function fillStatement(server: ImportBenchResult['server'], rows: number): string {
  const pick = (i: 0 | 1 | 2) => `ELT(1 + seq MOD ${KINDS.length}, ${KINDS.map((k) => mysql.escape(k[i])).join(', ')})`
  return `INSERT INTO identifiers (CanonicalId, OntologyType, SourceSystem, SourceId)
          SELECT ${canonicalIdOf('x')}, ${pick(0)}, ${pick(1)}, CONCAT(${pick(2)}, seq)
            FROM (SELECT seq, (seq * ${P} + ${C}) MOD ${M} AS x FROM ${sequence(server, rows)}) numbered
           ORDER BY 1`
}

/** Runs the import workload; every database it made is dropped before it returns. */
export async function measureImport(ctx: Context, rows: number): Promise<ImportBenchResult> {
  const sql = ctx.admin.sql
  const [version] = await sql.query<RowDataPacket[]>('SELECT VERSION() AS v')
  const server = /mariadb/i.test(String(version[0]?.v)) ? 'mariadb' : 'mysql'
  const tag = randomBytes(4).toString('hex')
  const legacy = `bench_legacy_${tag}`
  const imported = `bench_import_${tag}`
  const reference = `bench_insert_select_${tag}`
  const created: string[] = []
  const result: ImportBenchResult = { rows, server, fillSeconds: 0 }
  const target = (database: string): DatabaseOptions => ({
    host: localEnv.cluster_url as string,
    port: Number(localEnv.db_port),
    user: localEnv.db_username as string,
    password: localEnv.db_password ?? '',
    database,
    connectionLimit: 2,
    applyMigrations: true,
  })
  const drop = async (database: string) => {
    await sql.query(`DROP DATABASE IF EXISTS \`${database}\``)
    created.splice(created.indexOf(database), 1)
  }
  try {
    ctx.progress(`import: filling a latin1 legacy table with ${rows.toLocaleString('en-GB')} rows (${server === 'mariadb' ? 'sequence engine' : 'recursive CTE'})`)
    created.push(legacy)
    await sql.query(`CREATE DATABASE \`${legacy}\` CHARACTER SET latin1`)
    // The table as the Scala pipeline made it; rows go in in primary-key order and the unique key
    // is added after the fill, so both are built by sorting: random inserts into a table larger
    // than the buffer pool were slower than the import being measured.
    await sql.query(
      `CREATE TABLE \`${legacy}\`.identifiers (CanonicalId varchar(255) NOT NULL, OntologyType varchar(255) NOT NULL,
         SourceSystem varchar(255) NOT NULL, SourceId varchar(255) NOT NULL, PRIMARY KEY (CanonicalId)) DEFAULT CHARSET=latin1`,
    )
    const fillStarted = performance.now()
    await sql.query(`USE \`${legacy}\``)
    await sql.query(fillStatement(server, rows))
    await sql.query('ALTER TABLE identifiers ADD UNIQUE KEY UniqueFromSource (OntologyType, SourceSystem, SourceId)')
    await sql.query('ANALYZE TABLE identifiers')
    result.fillSeconds = (performance.now() - fillStarted) / 1000
    ctx.progress(`import: legacy table filled in ${result.fillSeconds.toFixed(1)} s; running the import (batches of ${BATCH_SIZE})`)

    created.push(imported)
    const importStarted = performance.now()
    let lastReport = importStarted
    const outcome = await importLegacyIdentifiers({
      source: { host: localEnv.cluster_url as string, port: Number(localEnv.db_port), user: localEnv.db_username as string, password: localEnv.db_password ?? '', database: legacy, table: 'identifiers' },
      target: target(imported),
      batchSize: BATCH_SIZE,
      onEvent: (event) => {
        if (event.kind === 'batch' && performance.now() - lastReport > 15_000) {
          lastReport = performance.now()
          const done = Object.values(event.progress.counts.byType).reduce((sum, t) => sum + t.rows, 0)
          ctx.progress(`import: ${done.toLocaleString('en-GB')} of ${event.rowsTotal.toLocaleString('en-GB')} rows`)
        }
      },
    })
    const importSeconds = (performance.now() - importStarted) / 1000
    if (outcome.status !== 'finished' || !outcome.verification?.holds) {
      throw new Error(`the import did not finish verified: ${outcome.status} ${outcome.verification?.problems.join('; ') ?? ''} ${outcome.checks.failures.map((f) => f.message).join('; ')}`)
    }
    const copySeconds = outcome.seconds.copy ?? 0
    result.importer = {
      seconds: importSeconds,
      checksSeconds: outcome.seconds.checks,
      copySeconds,
      verificationSeconds: outcome.seconds.verification ?? 0,
      rowsPerSecond: rows / importSeconds,
      copyRowsPerSecond: rows / copySeconds,
      verified: true,
      batchSize: BATCH_SIZE,
    }
    ctx.progress(`import: ${importSeconds.toFixed(1)} s (checks ${outcome.seconds.checks.toFixed(1)}, copy ${copySeconds.toFixed(1)}, verification ${(outcome.seconds.verification ?? 0).toFixed(1)})`)
    await drop(imported)

    created.push(reference)
    const database = openDatabase(target(reference))
    try {
      await database.applyMigrations()
    } finally {
      await database.close()
    }
    ctx.progress('import: INSERT … SELECT of the same rows into a fresh target on the same server')
    const subtypes = CONCEPT_SUBTYPES.map((t) => mysql.escape(t)).join(', ')
    const started = performance.now()
    await sql.query(`INSERT INTO \`${reference}\`.canonical_ids (CanonicalId, Status) SELECT CanonicalId, 'assigned' FROM \`${legacy}\`.identifiers`)
    const canonicalIdsDone = performance.now()
    await sql.query(
      `INSERT INTO \`${reference}\`.identifiers (OntologyType, SourceSystem, SourceId, CanonicalId)
       SELECT CASE WHEN CAST(OntologyType AS BINARY) IN (${subtypes}) THEN 'Concept' ELSE CONVERT(OntologyType USING utf8mb4) END,
              CONVERT(SourceSystem USING utf8mb4), CONVERT(SourceId USING utf8mb4), CanonicalId
         FROM \`${legacy}\`.identifiers`,
    )
    const done = performance.now()
    const [counted] = await sql.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${reference}\`.identifiers`)
    if (Number(counted[0]?.n) !== rows) throw new Error(`INSERT … SELECT stored ${counted[0]?.n} rows, not ${rows}`)
    const seconds = (done - started) / 1000
    result.insertSelect = { seconds, canonicalIdsSeconds: (canonicalIdsDone - started) / 1000, identifiersSeconds: (done - canonicalIdsDone) / 1000, rowsPerSecond: rows / seconds }
    result.ratio = result.importer.rowsPerSecond / result.insertSelect.rowsPerSecond
    result.copyRatio = result.importer.copyRowsPerSecond / result.insertSelect.rowsPerSecond
    ctx.progress(`import: INSERT … SELECT ${seconds.toFixed(1)} s; import ÷ INSERT … SELECT = ${result.ratio.toFixed(2)} (copy phase alone ${result.copyRatio.toFixed(2)})`)
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error)
    ctx.progress(`import: error: ${result.error}`)
  } finally {
    for (const database of [...created]) await drop(database).catch(() => {})
    await sql.query('USE information_schema').catch(() => {})
  }
  return result
}
