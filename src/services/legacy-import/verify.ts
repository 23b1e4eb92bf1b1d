import type { Pool, RowDataPacket } from 'mysql2/promise'
import { describeKey, keyOf, type IdentifierKey } from '../identifier-store/keys.js'
import type { IdentifierStore } from '../identifier-store/store.js'
import { storedOntologyType } from '../work-identifiers.js'
import type { CheckReport } from './checks.js'
import { unusedCanonicalIds } from './checks.js'
import type { PassCounts } from './copy.js'
import type { LegacyLayout } from './source.js'
import { legacyTypeBytes, quote, selectMapping, utf8Of } from './sql.js'
import { Deadline } from '../deadline.js'

export interface TypeVerification {
  /** Ontology type as stored here. */
  type: string
  /** Legacy rows of this type now (counted again, not taken from the pass). */
  legacyRows: number
  /** Keys those rows make here: legacy rows less those folded into another row by normalisation. */
  legacyKeys: number
  /** Rows of this type in our identifiers table. */
  here: number
  /** Legacy rows the pass found here with their legacy canonical ID. */
  confirmed: number
  conflicts: number
}

export interface Verification {
  holds: boolean
  byType: TypeVerification[]
  sample: { size: number; matched: number; problems: string[] }
  /** two-table: canonical IDs given out that no legacy key uses, now, and how many the pass registered or found. */
  unusedIds?: { legacy: number; registered: number }
  /** Why the verification does not hold, one sentence each. */
  problems: string[]
  seconds: number
}

export interface VerifyOptions {
  legacy: Pool
  target: Pool
  layout: LegacyLayout
  checks: CheckReport
  counts: PassCounts
  /** The service's own store, on the primary: a replica may not have the last batches yet. */
  store: IdentifierStore
  /** Legacy rows drawn at random and looked up through the store. */
  sampleSize: number
}

/**
 * Compares the legacy table with ours after a finished pass: row counts per ontology type (counted
 * again on both sides), the pass's conflicts, and a random sample of legacy rows looked up through
 * the service's identifier store, each of which must come back with its legacy canonical ID.
 */
export async function verifyImport({ legacy, target, layout, checks, counts, store, sampleSize }: VerifyOptions): Promise<Verification> {
  const started = performance.now()
  const problems: string[] = []
  const t = quote(layout.table)

  const typeColumn = layout.columns.OntologyType.name
  const [legacyRows] = await legacy.query<Array<RowDataPacket & { type: string | null; n: number }>>(
    `SELECT ${utf8Of(`MIN(${quote(typeColumn)})`)} AS type, COUNT(*) AS n FROM ${t} GROUP BY ${legacyTypeBytes(typeColumn)}`,
  )
  const [ourRows] = await target.query<Array<RowDataPacket & { type: Buffer; n: number }>>('SELECT OntologyType AS type, COUNT(*) AS n FROM identifiers GROUP BY OntologyType')
  const legacyByType = new Map<string, number>()
  for (const row of legacyRows) {
    const stored = row.type === null ? 'NULL' : storedOntologyType(row.type)
    legacyByType.set(stored, (legacyByType.get(stored) ?? 0) + Number(row.n))
  }
  const ourByType = new Map(ourRows.map((row) => [row.type.toString('utf8'), Number(row.n)]))
  const types = [...new Set([...legacyByType.keys(), ...Object.keys(counts.byType)])].sort()
  const byType = types.map((type): TypeVerification => {
    const pass = counts.byType[type] ?? { rows: 0, confirmed: 0, merged: 0, conflicts: 0 }
    const rows = legacyByType.get(type) ?? 0
    const keys = rows - (checks.mergedByType[type] ?? 0)
    const here = ourByType.get(type) ?? 0
    if (rows !== pass.rows) problems.push(`${type}: the legacy table has ${rows} rows, the import read ${pass.rows} (it changed during the import: run it again)`)
    if (pass.conflicts > 0) problems.push(`${type}: ${pass.conflicts} legacy rows not imported because of conflicts`)
    else if (here < keys) problems.push(`${type}: ${here} keys here, fewer than the ${keys} the legacy rows make`)
    return { type, legacyRows: rows, legacyKeys: keys, here, confirmed: pass.confirmed, conflicts: pass.conflicts }
  })

  let unusedIds: Verification['unusedIds']
  if (layout.canonicalIds) {
    const unused = unusedCanonicalIds(layout)
    const [rows] = await legacy.query<Array<RowDataPacket & { n: number }>>(`SELECT COUNT(*) AS n ${unused.from}`)
    const u = counts.unusedIds
    unusedIds = { legacy: Number(rows[0]?.n ?? 0), registered: u.registered + u.present }
    if (u.conflicts > 0) problems.push(`${u.conflicts} canonical IDs given out by the legacy system are held here by other keys`)
    if (unusedIds.legacy !== u.rows) problems.push(`the legacy system has ${unusedIds.legacy} canonical IDs no key uses, the import read ${u.rows} (run it again)`)
  }

  const sample = await checkSample(legacy, layout, store, sampleSize, checks.rows)
  problems.push(...sample.problems.slice(0, 5).map((problem) => `sample: ${problem}`))
  if (sample.problems.length > 5) problems.push(`sample: … and ${sample.problems.length - 5} more`)

  return {
    holds: problems.length === 0,
    byType,
    sample: { size: sample.size, matched: sample.matched, problems: sample.problems },
    ...(unusedIds ? { unusedIds } : {}),
    problems,
    seconds: (performance.now() - started) / 1000,
  }
}

/**
 * Draws about `size` legacy rows uniformly (each row kept with the same probability, then a random
 * subset, so no part of the table is favoured) and looks their keys up through the store.
 */
async function checkSample(legacy: Pool, layout: LegacyLayout, store: IdentifierStore, size: number, rows: number) {
  if (size <= 0 || rows === 0) return { size: 0, matched: 0, problems: [] as string[] }
  const probability = Math.min(1, (size * 1.5 + 20) / rows)
  const [drawn] = await legacy.query({
    sql: `SELECT * FROM (SELECT ${selectMapping(layout)} FROM ${quote(layout.table)} WHERE RAND() < ?) s ORDER BY RAND() LIMIT ?`,
    values: [probability, size],
    rowsAsArray: true,
  })
  const expected = new Map<string, { key: IdentifierKey; legacyType: string; canonicalId: string }>()
  for (const [type, system, id, canonicalId] of drawn as string[][]) {
    const key = { ontologyType: storedOntologyType(type as string), sourceSystem: system as string, sourceId: id as string }
    expected.set(keyOf(key), { key, legacyType: type as string, canonicalId: canonicalId as string })
  }
  const found = await store.lookup([...expected.values()].map((e) => e.key), Deadline.unlimited(), 'primary')
  const problems: string[] = []
  let matched = 0
  for (const [keyId, e] of expected) {
    const canonicalId = found.get(keyId)
    if (canonicalId === e.canonicalId) matched++
    else if (canonicalId === undefined) problems.push(`${e.legacyType} ${describeKey(e.key)} → "${e.canonicalId}" is not found here`)
    else problems.push(`${e.legacyType} ${describeKey(e.key)} → "${e.canonicalId}" has "${canonicalId}" here`)
  }
  return { size: expected.size, matched, problems }
}
