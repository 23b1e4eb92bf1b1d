/**
 * The scale benchmark's table: fills a migrated identifier store (canonical_ids and identifiers)
 * with N mappings by INSERT … SELECT from a generated sequence, MariaDB's sequence engine
 * (seq_1_to_N) or, on MySQL 8, a recursive CTE. Row n (1 ≤ n ≤ N) is filledKey(n) with the
 * canonical ID filledCanonicalId(n), so a benchmark can ask for rows it knows are there (or are
 * not: n > N) without reading them back.
 */
import type { Connection, RowDataPacket } from 'mysql2/promise'
import { CANONICAL_ID_LENGTH } from '../src/services/canonical-id.js'
import type { IdentifierKey } from '../src/services/identifier-store/keys.js'

export interface FillResult {
  rows: number
  server: 'mariadb' | 'mysql'
  seconds: number
  canonicalIdsSeconds: number
  identifiersSeconds: number
  /** Building the CanonicalId index and restoring the foreign key after the rows went in. */
  indexSeconds: number
}

// Eight kinds of row, as a catalogue has them, each its own (OntologyType, SourceSystem), so that
// each kind's rows go in in primary-key order. Person and the other subtypes are stored as Concept.
const KINDS: ReadonlyArray<readonly [ontologyType: string, sourceSystem: string, prefix: string]> = [
  ['Concept', 'lc-names', 'n'],
  ['Concept', 'lc-subjects', 'sh'],
  ['Image', 'miro-image-number', 'L'],
  ['Item', 'sierra-system-number', 'i'],
  ['Subject', 'lc-subjects', 'sh-s'],
  ['Work', 'calm-record-id', 'c5a1e2f0-'],
  ['Work', 'miro-image-number', 'V'],
  ['Work', 'sierra-system-number', 'b'],
]
const DIGITS = 10

const LETTERS = 'abcdefghjkmnpqrstuvwxyz'
const ALPHABET = `${LETTERS}23456789`
// A bijection from row numbers to canonical IDs: n -> (n * P + C) mod M, with P prime to M, read as
// one letter and seven alphabet digits. Distinct IDs without a look-up, scattered like drawn ones.
const M = BigInt(LETTERS.length) * BigInt(ALPHABET.length) ** BigInt(CANONICAL_ID_LENGTH - 1)
const P = 1_000_000_007n
const C = 12_345n

/** The key of row n. */
export function filledKey(n: number): IdentifierKey {
  const [ontologyType, sourceSystem, prefix] = KINDS[(n - 1) % KINDS.length] as (typeof KINDS)[number]
  return { ontologyType, sourceSystem, sourceId: `${prefix}${String(n).padStart(DIGITS, '0')}` }
}

/** The canonical ID of row n. */
export function filledCanonicalId(n: number): string {
  let x = (BigInt(n) * P + C) % M
  const digits: string[] = []
  for (let i = 0; i < CANONICAL_ID_LENGTH - 1; i++) {
    digits.push(ALPHABET[Number(x % BigInt(ALPHABET.length))] as string)
    x /= BigInt(ALPHABET.length)
  }
  return `${LETTERS[Number(x)]}${digits.reverse().join('')}`
}

function canonicalIdSql(n: string): string {
  const x = `((${n} * ${P}) + ${C}) MOD ${M}`
  const digits = [`SUBSTRING('${LETTERS}', ${x} DIV ${ALPHABET.length ** 7} + 1, 1)`]
  for (let i = 6; i >= 0; i--) digits.push(`SUBSTRING('${ALPHABET}', (${x} DIV ${ALPHABET.length ** i}) MOD ${ALPHABET.length} + 1, 1)`)
  return `CONCAT(${digits.join(', ')})`
}

/** A derived table `s(seq)`: first, first + step, … up to last, ascending (MariaDB's sequence tables are named in a database: `db`'s). */
function sequence(server: FillResult['server'], db: string, first: number, last: number, step: number): string {
  if (server === 'mariadb') return `(SELECT seq FROM ${db}.seq_${first}_to_${last}_step_${step}) s`
  return `(WITH RECURSIVE d (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 999)
            SELECT a.n * 1000000 + b.n * 1000 + c.n + 1 AS seq FROM d a CROSS JOIN d b CROSS JOIN d c
             WHERE a.n * 1000000 + b.n * 1000 + c.n + 1 BETWEEN ${first} AND ${last}
               AND (a.n * 1000000 + b.n * 1000 + c.n + 1 - ${first}) MOD ${step} = 0) s`
}

// The names the migration gave them (migrations/0000_initial.sql).
const CANONICAL_ID_INDEX = 'identifiers_canonical_id'
const FOREIGN_KEY = 'identifiers_CanonicalId_canonical_ids_CanonicalId_fk'

/**
 * Fills `database` (migrated, empty) with `rows` mappings; up to 999,999,999 on MySQL. The
 * CanonicalId index and the foreign key are dropped for the fill and built again after it (a sort
 * instead of 10M random inserts into an index past the buffer pool), so the table ends exactly as
 * migrated. Uses `sql`'s session; leaves its default database as it found it.
 */
export async function fillIdentifiers(sql: Connection, database: string, rows: number, progress: (message: string) => void = () => {}): Promise<FillResult> {
  const [version] = await sql.query<RowDataPacket[]>('SELECT VERSION() AS v')
  const server = /mariadb/i.test(String(version[0]?.v)) ? 'mariadb' : 'mysql'
  const db = `\`${database.replace(/`/g, '``')}\``
  const result: FillResult = { rows, server, seconds: 0, canonicalIdsSeconds: 0, identifiersSeconds: 0, indexSeconds: 0 }
  const started = performance.now()
  await sql.query('SET SESSION foreign_key_checks = 0, SESSION unique_checks = 0')
  try {
    await sql.query(`ALTER TABLE ${db}.identifiers DROP FOREIGN KEY ${FOREIGN_KEY}`)
    await sql.query(`ALTER TABLE ${db}.identifiers DROP INDEX ${CANONICAL_ID_INDEX}`)

    progress(`fill: ${rows.toLocaleString('en-GB')} canonical IDs, in key order`)
    await sql.query(
      `INSERT INTO ${db}.canonical_ids (CanonicalId, Status)
       SELECT id, 'assigned' FROM (SELECT ${canonicalIdSql('seq')} AS id FROM ${sequence(server, db, 1, rows, 1)}) ids ORDER BY id`,
    )
    result.canonicalIdsSeconds = (performance.now() - started) / 1000

    const identifiersStarted = performance.now()
    for (const [i, [ontologyType, sourceSystem, prefix]] of KINDS.entries()) {
      const first = i + 1
      if (first > rows) continue
      progress(`fill: identifiers of kind ${i + 1}/${KINDS.length} (${ontologyType} ${sourceSystem})`)
      await sql.query(
        `INSERT INTO ${db}.identifiers (OntologyType, SourceSystem, SourceId, CanonicalId)
         SELECT ?, ?, CONCAT(?, LPAD(seq, ${DIGITS}, '0')), ${canonicalIdSql('seq')} FROM ${sequence(server, db, first, rows, KINDS.length)} ORDER BY seq`,
        [ontologyType, sourceSystem, prefix],
      )
    }
    result.identifiersSeconds = (performance.now() - identifiersStarted) / 1000

    progress('fill: building the CanonicalId index and restoring the foreign key')
    const indexStarted = performance.now()
    await sql.query(`ALTER TABLE ${db}.identifiers ADD INDEX ${CANONICAL_ID_INDEX} (CanonicalId)`)
    await sql.query(`ALTER TABLE ${db}.identifiers ADD CONSTRAINT ${FOREIGN_KEY} FOREIGN KEY (CanonicalId) REFERENCES ${db}.canonical_ids (CanonicalId) ON DELETE NO ACTION ON UPDATE NO ACTION`)
    await sql.query(`ANALYZE TABLE ${db}.canonical_ids, ${db}.identifiers`)
    result.indexSeconds = (performance.now() - indexStarted) / 1000
  } finally {
    await sql.query('SET SESSION foreign_key_checks = 1, SESSION unique_checks = 1')
  }
  result.seconds = (performance.now() - started) / 1000
  const [counted] = await sql.query<RowDataPacket[]>(`SELECT (SELECT COUNT(*) FROM ${db}.identifiers) AS identifiers, (SELECT COUNT(*) FROM ${db}.canonical_ids) AS canonicalIds`)
  if (Number(counted[0]?.identifiers) !== rows || Number(counted[0]?.canonicalIds) !== rows) {
    throw new Error(`the fill stored ${counted[0]?.identifiers} identifiers and ${counted[0]?.canonicalIds} canonical IDs, not ${rows}`)
  }
  return result
}
