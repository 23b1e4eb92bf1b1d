import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise'
import { CANONICAL_ID_LENGTH, CANONICAL_ID_PATTERN, STORED_CANONICAL_ID_PATTERN } from '../canonical-id.js'
import { limits } from '../identifier-store/limits.js'
import type { LegacyLayout } from './source.js'
import { storedOntologyType } from '../work-identifiers.js'
import { conceptFamily, legacyTypeBytes, quote, selectMapping, storedTypeBytes, utf8, utf8Bytes, utf8Exact, utf8Of } from './sql.js'

/** What a pre-write check found: how many rows, a few of them, and what it means. */
export interface Finding {
  check:
    | 'bad-canonical-id'
    | 'missing-value'
    | 'value-too-long'
    | 'key-collision'
    | 'outside-minting-alphabet'
    | 'concept-subtype'
    | 'merged-rows'
    | 'shared-canonical-id'
  /** Legacy rows (or canonical IDs, or keys, as the message says) concerned. */
  count: number
  message: string
  /** Up to five, as `OntologyType[SourceSystem/SourceId] → "CanonicalId"` in the legacy text. */
  examples: string[]
}

export interface CheckReport {
  /** Rows in the legacy mapping table. */
  rows: number
  /** Legacy rows per ontology type as stored here (Concept subtypes counted as Concept). */
  rowsByType: Record<string, number>
  /** Rows per type that normalisation (or a table without a unique key) folds into another row of the same key and the same canonical ID. */
  mergedByType: Record<string, number>
  /** Anything here stops the import before it writes. */
  failures: Finding[]
  /** Imported as they are; reported so that nobody is surprised. */
  notices: Finding[]
  /** two-table: canonical IDs given out (not 'free') that no legacy key uses; they are registered as assigned. */
  unusedCanonicalIds: number
  seconds: number
}

const EXAMPLES = 5
// Exactly 8 printable ASCII characters, space excluded: CHAR(8) would drop a trailing space on
// the way out, and the ID would no longer be the one published. The length is tested first
// because `$` also matches before a final newline.
const FITS_COLUMN = `'${STORED_CANONICAL_ID_PATTERN}'`

/**
 * Reads the whole legacy table (server-side aggregates, nothing copied) and reports what cannot be
 * imported as it is (failures) and what is imported but worth knowing (notices), with counts and
 * examples. Writes nothing anywhere.
 */
export async function checkLegacy(pool: Pool, layout: LegacyLayout): Promise<CheckReport> {
  const started = performance.now()
  const t = quote(layout.table)
  const { OntologyType: type, SourceSystem: system, SourceId: id, CanonicalId: canonical } = layout.columns
  const C = quote(canonical.name)
  const conditions = {
    badId: badId(C),
    outsideAlphabet: `(NOT ${badId(C)} AND ${utf8Exact(canonical.name)} NOT REGEXP ${mysql.escape(CANONICAL_ID_PATTERN)})`,
    missing: `(${quote(type.name)} IS NULL OR ${quote(system.name)} IS NULL OR ${quote(id.name)} IS NULL)`,
    tooLong: `(LENGTH(${utf8(type.name)}) > ${limits.ontologyType} OR LENGTH(${utf8(system.name)}) > ${limits.sourceSystem} OR LENGTH(${utf8(id.name)}) > ${limits.sourceId})`,
    subtype: `(${conceptFamily(type.name)} AND CAST(${quote(type.name)} AS BINARY) <> 'Concept')`,
  }

  interface ScanRow extends RowDataPacket {
    type: string | null
    n: number
    badId: string | null
    outsideAlphabet: string | null
    missing: string | null
    tooLong: string | null
    subtype: string | null
  }
  const [scan] = await pool.query<ScanRow[]>(
    `SELECT ${utf8Of(`MIN(${quote(type.name)})`)} AS type, COUNT(*) AS n,
            ${Object.entries(conditions).map(([name, condition]) => `SUM(${condition}) AS ${name}`).join(', ')}
       FROM ${t} GROUP BY ${legacyTypeBytes(type.name)}`,
  )
  const total = (name: keyof typeof conditions) => scan.reduce((sum, row) => sum + Number(row[name] ?? 0), 0)
  const rowsByType: Record<string, number> = {}
  for (const row of scan) {
    const stored = row.type === null ? 'NULL' : storedOntologyType(row.type)
    rowsByType[stored] = (rowsByType[stored] ?? 0) + Number(row.n)
  }

  const examples = async (condition: string): Promise<string[]> => {
    const [rows] = await pool.query({ sql: `SELECT ${selectMapping(layout)} FROM ${t} WHERE ${condition} LIMIT ${EXAMPLES}`, rowsAsArray: true })
    return (rows as Array<Array<string | null>>).map(describeRow)
  }
  const failures: Finding[] = []
  const notices: Finding[] = []
  const add = async (list: Finding[], check: Finding['check'], count: number, condition: string, message: string) => {
    if (count > 0) list.push({ check, count, message, examples: await examples(condition) })
  }
  await add(failures, 'bad-canonical-id', total('badId'), conditions.badId, `rows whose CanonicalId is not ${CANONICAL_ID_LENGTH} printable ASCII characters (no spaces): it cannot be stored here as it is`)
  await add(failures, 'missing-value', total('missing'), conditions.missing, 'rows with a NULL OntologyType, SourceSystem or SourceId')
  await add(
    failures,
    'value-too-long',
    total('tooLong'),
    conditions.tooLong,
    `rows whose text in UTF-8 is over our limits (OntologyType ${limits.ontologyType}, SourceSystem ${limits.sourceSystem}, SourceId ${limits.sourceId} bytes)`,
  )
  await add(
    notices,
    'outside-minting-alphabet',
    total('outsideAlphabet'),
    conditions.outsideAlphabet,
    'rows whose CanonicalId fits the column but is not one this service would mint (imported as it is)',
  )
  await add(notices, 'concept-subtype', total('subtype'), conditions.subtype, 'rows of a Concept subtype (Person, Agent, …): imported as Concept, as a mint stores them')

  // Two rows become one key here only through the Concept normalisation when a unique key already
  // keeps the three columns apart (unique under any collation means distinct bytes); without
  // one, every row is compared.
  const scope = layout.uniqueOnKey ? `WHERE ${conceptFamily(type.name)}` : ''
  const groupKey = `${storedTypeBytes(type.name)}, ${utf8Bytes(system.name)}, ${utf8Bytes(id.name)}`
  interface GroupRow extends RowDataPacket {
    type: Buffer
    collisions: string | null
    keys: string | null
    merged: string | null
  }
  const [groups] = await pool.query<GroupRow[]>(
    `SELECT type, SUM(ids > 1) AS collisions, SUM(IF(ids > 1, n, 0)) AS \`keys\`, SUM(IF(ids = 1, n - 1, 0)) AS merged
       FROM (SELECT ${storedTypeBytes(type.name)} AS type, COUNT(*) AS n, COUNT(DISTINCT ${utf8Bytes(canonical.name)}) AS ids
               FROM ${t} ${scope} GROUP BY ${groupKey} HAVING COUNT(*) > 1) g
      GROUP BY type`,
  )
  const mergedByType: Record<string, number> = {}
  let collisions = 0
  let collidingRows = 0
  let merged = 0
  for (const row of groups) {
    collisions += Number(row.collisions ?? 0)
    collidingRows += Number(row.keys ?? 0)
    merged += Number(row.merged ?? 0)
    if (Number(row.merged ?? 0) > 0) mergedByType[row.type.toString('utf8')] = Number(row.merged)
  }
  if (collisions > 0) {
    const [rows] = await pool.query<Array<RowDataPacket & { example: string }>>(
      `SELECT GROUP_CONCAT(CONCAT(${utf8(type.name)}, '[', ${utf8(system.name)}, '/', ${utf8(id.name)}, '] → "', ${utf8(canonical.name)}, '"') SEPARATOR ' and ') AS example
         FROM ${t} ${scope} GROUP BY ${groupKey} HAVING COUNT(DISTINCT ${utf8Bytes(canonical.name)}) > 1 LIMIT ${EXAMPLES}`,
    )
    failures.push({
      check: 'key-collision',
      count: collisions,
      message: `keys that ${collidingRows} legacy rows with different canonical IDs become once converted and normalised (a mint would find only one of them)`,
      examples: rows.map((row) => row.example),
    })
  }
  if (merged > 0) {
    notices.push({ check: 'merged-rows', count: merged, message: 'rows with the same key here and the same canonical ID as another row (e.g. Person and Concept): imported once', examples: [] })
  }

  let unusedIds = 0
  if (layout.canonicalIds) {
    const [shared] = await pool.query<Array<RowDataPacket & { ids: number; n: string | null }>>(
      `SELECT COUNT(*) AS ids, SUM(n) AS n FROM (SELECT COUNT(*) AS n FROM ${t} GROUP BY ${C} HAVING COUNT(*) > 1) s`,
    )
    const sharedIds = Number(shared[0]?.ids ?? 0)
    if (sharedIds > 0) {
      const [rows] = await pool.query<Array<RowDataPacket & { example: string }>>(
        `SELECT GROUP_CONCAT(CONCAT(${utf8(type.name)}, '[', ${utf8(system.name)}, '/', ${utf8(id.name)}, ']') SEPARATOR ' and ') AS example
           FROM ${t} GROUP BY ${C} HAVING COUNT(*) > 1 LIMIT ${EXAMPLES}`,
      )
      notices.push({
        check: 'shared-canonical-id',
        count: sharedIds,
        message: `canonical IDs held by more than one legacy row (${Number(shared[0]?.n ?? 0)} rows; predecessors share IDs): imported as shared`,
        examples: rows.map((row) => row.example),
      })
    }
    const unused = unusedCanonicalIds(layout)
    const [counts] = await pool.query<Array<RowDataPacket & { n: number; bad: string | null }>>(
      `SELECT COUNT(*) AS n, SUM(${badId(unused.column)}) AS bad ${unused.from}`,
    )
    unusedIds = Number(counts[0]?.n ?? 0)
    const bad = Number(counts[0]?.bad ?? 0)
    if (bad > 0) {
      const [rows] = await pool.query({ sql: `SELECT ${utf8Of(unused.column)} ${unused.from} AND ${badId(unused.column)} LIMIT ${EXAMPLES}`, rowsAsArray: true })
      failures.push({
        check: 'bad-canonical-id',
        count: bad,
        message: `canonical IDs in ${layout.canonicalIds.table} that no key uses and that are not ${CANONICAL_ID_LENGTH} printable ASCII characters`,
        examples: (rows as Array<[string | null]>).map(([value]) => JSON.stringify(value)),
      })
    }
  }

  return {
    rows: scan.reduce((sum, row) => sum + Number(row.n), 0),
    rowsByType,
    mergedByType,
    failures,
    notices,
    unusedCanonicalIds: unusedIds,
    seconds: (performance.now() - started) / 1000,
  }
}

/** A canonical ID (any SQL expression) that does not fit CHAR(8) ASCII as it is. */
function badId(expression: string): string {
  return `(${expression} IS NULL OR CHAR_LENGTH(${expression}) <> ${CANONICAL_ID_LENGTH} OR (${utf8Of(expression)} COLLATE utf8mb4_bin) NOT REGEXP ${FITS_COLUMN})`
}

/**
 * two-table: the canonical IDs given out (Status not 'free', or every row without a Status column)
 * that no legacy key uses: `from` is a FROM … WHERE clause to which conditions can be ANDed, and
 * `column` the CanonicalId column in it. Finding them relies on an index on identifiers.CanonicalId.
 */
export function unusedCanonicalIds(layout: LegacyLayout): { from: string; column: string } {
  const ids = layout.canonicalIds
  if (!ids) throw new Error('unusedCanonicalIds: not the two-table layout')
  const column = `c.${quote(ids.column.name)}`
  const status = ids.statusColumn ? `c.${quote(ids.statusColumn)} <> 'free' AND ` : ''
  return {
    column,
    from: `FROM ${quote(ids.table)} c WHERE ${status}NOT EXISTS (SELECT 1 FROM ${quote(layout.table)} i WHERE i.${quote(layout.columns.CanonicalId.name)} = ${column})`,
  }
}

/** `OntologyType[SourceSystem/SourceId] → "CanonicalId"`, the ID quoted so that spaces and odd characters show. */
export function describeRow(row: Array<string | null>): string {
  const [type, system, id, canonical] = row.map((value) => (value === null ? 'NULL' : value))
  return `${type}[${system}/${id}] → ${row[3] === null ? 'NULL' : JSON.stringify(canonical)}`
}
