import { inArray, sql } from 'drizzle-orm'
import type { MySql2Database } from 'drizzle-orm/mysql2'
import { format } from 'mysql2'
import { generateCanonicalIds } from '../canonical-id.js'
import { DependencyUnavailableError, describeError, rootCause } from '../errors.js'
import { compareKeys, keyOf, type IdentifierKey } from './keys.js'
import { canonicalIds } from './schema.js'

/** MySQL caps nothing here, but the design does: no statement carries more than this many values. */
export const CHUNK_SIZE = 1000
const MAX_ATTEMPTS = 8

// Errors after which the whole transaction can simply run again.
const RETRYABLE = new Set([
  'ER_LOCK_DEADLOCK', // two requests inserting overlapping identifiers
  'ER_LOCK_WAIT_TIMEOUT',
])

export interface IdentifierStoreOptions {
  primary: MySql2Database
  /** Where look-ups go: a read replica, or the primary again. */
  replica?: MySql2Database
  /** Runs before the first statement until it has succeeded once (migrations at start-up). */
  ready?: () => Promise<void>
}

export interface Assignment {
  key: IdentifierKey
  /** The canonical ID to give the key: an inherited one, or undefined to mint a new one. */
  canonicalId?: string
}

export type IdentifierStore = ReturnType<typeof createIdentifierStore>

export function createIdentifierStore({ primary, replica = primary, ready }: IdentifierStoreOptions) {
  async function run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      if (ready) await ready()
      return await operation()
    } catch (error) {
      if (error instanceof DependencyUnavailableError) throw error
      throw new DependencyUnavailableError('database', `Database unavailable: ${describeError(error)}`, { cause: error })
    }
  }

  /** Finds the canonical IDs already given to these keys, keyed by keyOf(). */
  async function lookup(keys: IdentifierKey[], from: 'replica' | 'primary' = 'replica'): Promise<Map<string, string>> {
    const found = new Map<string, string>()
    if (keys.length === 0) return found
    const db = from === 'replica' ? replica : primary
    return run(async () => {
      for (const condition of lookupConditions(keys)) {
        for (const row of await mappings(db, condition)) found.set(keyOf(row), row.canonicalId)
      }
      return found
    })
  }

  /**
   * Stores mappings for keys that had none at look-up time, in one transaction: new canonical IDs
   * are registered as assigned, then the mappings inserted. Where a concurrent request got there
   * first, its mapping stands and ours is dropped, so every caller agrees on one canonical ID.
   * Returns the canonical ID that each key now has.
   */
  async function assign(assignments: Assignment[]): Promise<Map<string, string>> {
    if (assignments.length === 0) return new Map()
    // One global order for the rows, so concurrent inserts take their locks in the same order.
    const sorted = [...assignments].sort((a, b) => compareKeys(a.key, b.key))
    return run(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await assignOnce(sorted)
        } catch (error) {
          const cause = rootCause(error) as { code?: string; message?: string; sql?: string }
          const code = cause.code
          // A freshly drawn ID that someone already holds: draw again (rare: 6e11 possible IDs).
          // MariaDB names only the key ("for key 'PRIMARY'"), so look at the statement too.
          const duplicateCandidate = code === 'ER_DUP_ENTRY' && /canonical_ids/i.test(`${cause.message} ${cause.sql ?? ''}`)
          if (attempt < MAX_ATTEMPTS && (RETRYABLE.has(code ?? '') || duplicateCandidate)) {
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt))
            continue
          }
          throw error
        }
      }
    })
  }

  async function assignOnce(sorted: Assignment[]): Promise<Map<string, string>> {
    const candidates = generateCanonicalIds(sorted.filter((a) => a.canonicalId === undefined).length)
    let next = 0
    const rows = sorted.map((a) => ({ ...a.key, canonicalId: a.canonicalId ?? (candidates[next++] as string) }))
    return primary.transaction(async (tx) => {
      // Multi-row inserts are written with mysql2's own escaping (what drizzle ends in anyway, as
      // it sends text queries): drizzle's builder costs ~50 µs a row, the formatting ~0.5 µs.
      for (const chunk of chunks(candidates)) {
        await tx.execute(sql.raw(format('INSERT INTO `canonical_ids` (`CanonicalId`, `Status`) VALUES ?', [chunk.map((id) => [id, 'assigned'])])))
      }
      let inserted = 0
      for (const chunk of chunks(rows)) {
        // A no-op update on a duplicate key: the existing mapping is never changed, and with
        // FOUND_ROWS off the affected-row count says how many of ours went in.
        const values = chunk.map((row) => [row.ontologyType, row.sourceSystem, row.sourceId, row.canonicalId])
        const [result] = await tx.execute(
          sql.raw(
            format(
              'INSERT INTO `identifiers` (`OntologyType`, `SourceSystem`, `SourceId`, `CanonicalId`) VALUES ? ON DUPLICATE KEY UPDATE `CanonicalId` = `CanonicalId`',
              [values],
            ),
          ),
        )
        inserted += result.affectedRows
      }
      const assigned = new Map(rows.map((row) => [keyOf(row), row.canonicalId]))
      if (inserted === rows.length) return assigned

      // Some keys were minted by a concurrent request between our look-up and our insert.
      // A locking read sees its committed mapping whatever the isolation level.
      for (const condition of lookupConditions(rows)) {
        for (const row of await mappings(tx, `${condition} FOR UPDATE`)) assigned.set(keyOf(row), row.canonicalId)
      }
      const used = new Set(assigned.values())
      const unused = candidates.filter((id) => !used.has(id))
      for (const chunk of chunks(unused)) await tx.delete(canonicalIds).where(inArray(canonicalIds.canonicalId, chunk))
      return assigned
    })
  }

  return { lookup, assign }
}

const SELECT_MAPPINGS = 'SELECT `OntologyType`, `SourceSystem`, `SourceId`, `CanonicalId` FROM `identifiers`'

/** The stored mappings a look-up statement finds (VARBINARY columns arrive as Buffers). */
async function mappings(db: Pick<MySql2Database, 'execute'>, statement: string) {
  const [rows] = (await db.execute(sql.raw(statement))) as unknown as [
    Array<{ OntologyType: Buffer; SourceSystem: Buffer; SourceId: Buffer; CanonicalId: string }>,
  ]
  return rows.map((row) => ({
    ontologyType: row.OntologyType.toString('utf8'),
    sourceSystem: row.SourceSystem.toString('utf8'),
    sourceId: row.SourceId.toString('utf8'),
    canonicalId: row.CanonicalId,
  }))
}

/** Look-up statements for the keys, grouped by ontology type and system, at most CHUNK_SIZE values each. */
function lookupConditions(keys: IdentifierKey[]): string[] {
  const groups = new Map<string, { ontologyType: string; sourceSystem: string; sourceIds: string[] }>()
  for (const key of keys) {
    const groupKey = keyOf({ ontologyType: key.ontologyType, sourceSystem: key.sourceSystem, sourceId: '' })
    let group = groups.get(groupKey)
    if (!group) groups.set(groupKey, (group = { ontologyType: key.ontologyType, sourceSystem: key.sourceSystem, sourceIds: [] }))
    group.sourceIds.push(key.sourceId)
  }
  const statements: string[][] = [[]]
  let values = 0
  for (const group of groups.values()) {
    for (let at = 0; at < group.sourceIds.length; ) {
      if (values === CHUNK_SIZE) {
        statements.push([])
        values = 0
      }
      const sourceIds = group.sourceIds.slice(at, at + CHUNK_SIZE - values)
      at += sourceIds.length
      values += sourceIds.length
      statements[statements.length - 1]?.push(
        format('(OntologyType = ? AND SourceSystem = ? AND SourceId IN (?))', [group.ontologyType, group.sourceSystem, sourceIds]),
      )
    }
  }
  return statements.map((conditions) => `${SELECT_MAPPINGS} WHERE ${conditions.join(' OR ')}`)
}

function chunks<T>(items: T[]): T[][] {
  const result: T[][] = []
  for (let i = 0; i < items.length; i += CHUNK_SIZE) result.push(items.slice(i, i + CHUNK_SIZE))
  return result
}
