import type { Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise'
import { generateCanonicalIds } from '../canonical-id.js'
import type { Deadline } from '../deadline.js'
import { within, withConnection, type Query } from './connection.js'
import { DependencyUnavailableError, describeError, rootCause } from '../errors.js'
import { compareKeys, keyLookupStatements, keyOf, type IdentifierKey, type Statement } from './keys.js'

// Statements go to mysql2 as a template and its values, which mysql2 escapes and inlines (text
// protocol, as the floor does): drizzle added a row-parsing typeCast hook and a second scan of
// every formatted statement, about a third of the store's CPU time.

/** MySQL caps nothing here, but the design does: no statement carries more than this many values. */
export const CHUNK_SIZE = 1000
const MAX_ATTEMPTS = 8

// Errors after which the whole transaction can simply run again.
const RETRYABLE = new Set([
  'ER_LOCK_DEADLOCK', // two requests inserting overlapping identifiers
  'ER_LOCK_WAIT_TIMEOUT',
])

export interface IdentifierStoreOptions {
  primary: Pool
  /** Where look-ups go: a read replica, or the primary again. */
  replica?: Pool
  /** Runs before the first statement until it has succeeded once (migrations at start-up). */
  ready?: () => Promise<void>
}

export interface Assignment {
  key: IdentifierKey
  /** keyOf(key), when the caller has it already. */
  keyId?: string
  /** The canonical ID to give the key: an inherited one, or undefined to mint a new one. */
  canonicalId?: string
}

export type IdentifierStore = ReturnType<typeof createIdentifierStore>

/**
 * The identifiers table. Every call takes the request's Deadline: each statement runs with
 * mysql2's timeout set to what is left of it, and a connection whose statement timed out is
 * destroyed rather than returned (its transaction can then never commit). When the budget runs
 * out, or the database cannot be reached, the call throws DependencyUnavailableError.
 */
export function createIdentifierStore({ primary, replica = primary, ready }: IdentifierStoreOptions) {
  async function run<T>(deadline: Deadline, stage: string, operation: () => Promise<T>): Promise<T> {
    try {
      if (ready) await within(deadline, stage, ready())
      return await operation()
    } catch (error) {
      if (error instanceof DependencyUnavailableError) throw error
      throw new DependencyUnavailableError('database', `Database unavailable: ${describeError(error)}`, { cause: error })
    }
  }

  /** Finds the canonical IDs already given to these keys, keyed by keyOf(). */
  async function lookup(keys: IdentifierKey[], deadline: Deadline, from: 'replica' | 'primary' = 'replica'): Promise<Map<string, string>> {
    const found = new Map<string, string>()
    if (keys.length === 0) return found
    const stage = 'looking up identifiers'
    return run(deadline, stage, () =>
      withConnection(from === 'replica' ? replica : primary, deadline, stage, async (query) => {
        for (const statement of lookupStatements(keys)) await readMappings(query, statement, found)
        return found
      }),
    )
  }

  /**
   * Of keys the replica did not find, those the primary has, keyed by keyOf(). A read replica lags
   * the primary by moments, so a key minted just now (a predecessor, say) must be asked of the
   * primary before it counts as unknown. Without a separate replica there is nothing to ask.
   */
  async function confirmMissing(keys: IdentifierKey[], deadline: Deadline): Promise<Map<string, string>> {
    return replica === primary ? new Map() : lookup(keys, deadline, 'primary')
  }

  /**
   * Stores mappings for keys that had none at look-up time, in one transaction: new canonical IDs
   * are registered as assigned, then the mappings inserted. Where a concurrent request got there
   * first, its mapping stands and ours is dropped, so every caller agrees on one canonical ID.
   * Returns the canonical ID that each key now has.
   */
  async function assign(assignments: Assignment[], deadline: Deadline): Promise<Map<string, string>> {
    if (assignments.length === 0) return new Map()
    // One global order for the rows, so concurrent inserts take their locks in the same order.
    const sorted = [...assignments].sort((a, b) => compareKeys(a.key, b.key))
    const stage = 'storing identifiers'
    return run(deadline, stage, async () => {
      const settled = new Map<string, string>()
      let pending = sorted
      for (let attempt = 1; ; attempt++) {
        try {
          const assigned = await assignOnce(pending, deadline)
          for (const [key, canonicalId] of settled) assigned.set(key, canonicalId)
          return assigned
        } catch (error) {
          const cause = rootCause(error) as { code?: string; message?: string; sql?: string }
          const code = cause.code
          // A freshly drawn ID that someone already holds: draw again (rare: 6e11 possible IDs).
          // MariaDB names only the key ("for key 'PRIMARY'"), so look at the statement too.
          const duplicateCandidate = code === 'ER_DUP_ENTRY' && /canonical_ids/i.test(`${cause.message} ${cause.sql ?? ''}`)
          if (attempt < MAX_ATTEMPTS && (RETRYABLE.has(code ?? '') || duplicateCandidate)) {
            // Exponential backoff with full jitter, so colliding requests spread out rather than
            // meet again; never past the deadline.
            const backoff = Math.random() * Math.min(1000, 20 * 2 ** attempt)
            if (backoff >= deadline.remaining()) throw deadline.spent('database', `${stage} (retrying after ${code})`, error)
            await new Promise((resolve) => setTimeout(resolve, backoff))
            // Whatever a concurrent request has committed meanwhile is settled: the next attempt
            // neither inserts nor locks those keys, so it has fewer rows to collide on.
            const committed = await lookup(pending.map((a) => a.key), deadline, 'primary')
            for (const [key, canonicalId] of committed) settled.set(key, canonicalId)
            pending = pending.filter((a) => !committed.has(keyOf(a.key)))
            if (pending.length === 0) return new Map(settled)
            continue
          }
          throw error
        }
      }
    })
  }

  async function assignOnce(sorted: Assignment[], deadline: Deadline): Promise<Map<string, string>> {
    const stage = 'storing identifiers'
    const candidates = generateCanonicalIds(sorted.filter((a) => a.canonicalId === undefined).length)
    let next = 0
    const rows: Row[] = []
    const assigned = new Map<string, string>()
    for (const a of sorted) {
      const canonicalId = a.canonicalId ?? (candidates[next++] as string)
      rows.push([a.key.ontologyType, a.key.sourceSystem, a.key.sourceId, canonicalId])
      assigned.set(a.keyId ?? keyOf(a.key), canonicalId)
    }
    return transaction(primary, deadline, stage, async (query) => {
      for (const chunk of chunks(candidates)) {
        await query('INSERT INTO `canonical_ids` (`CanonicalId`, `Status`) VALUES ?', [chunk.map((id) => [id, 'assigned'])])
      }
      let inserted = 0
      for (const chunk of chunks(rows)) {
        // A no-op update on a duplicate key: the existing mapping is never changed, and with
        // FOUND_ROWS off the affected-row count says how many of ours went in.
        const result = (await query(
          'INSERT INTO `identifiers` (`OntologyType`, `SourceSystem`, `SourceId`, `CanonicalId`) VALUES ? ON DUPLICATE KEY UPDATE `CanonicalId` = `CanonicalId`',
          [chunk],
        )) as ResultSetHeader
        inserted += result.affectedRows
      }
      if (inserted === rows.length) return assigned

      // Some keys were minted by a concurrent request between our look-up and our insert.
      // A locking read sees its committed mapping whatever the isolation level.
      for (const statement of lookupStatements(sorted.map((a) => a.key))) {
        await readMappings(query, { sql: `${statement.sql} FOR UPDATE`, values: statement.values }, assigned)
      }
      const used = new Set(assigned.values())
      const unused = candidates.filter((id) => !used.has(id))
      for (const chunk of chunks(unused)) await query('DELETE FROM `canonical_ids` WHERE `CanonicalId` IN (?)', [chunk])
      return assigned
    })
  }

  return { lookup, confirmMissing, assign }
}

/**
 * BEGIN, the body, COMMIT; ROLLBACK if anything fails, while the deadline allows. A connection
 * that cannot roll back in time is destroyed instead, which rolls the transaction back on the
 * server and leaves nothing of it to commit later.
 */
async function transaction<T>(pool: Pool, deadline: Deadline, stage: string, body: (query: Query) => Promise<T>): Promise<T> {
  return withConnection(pool, deadline, stage, async (query, connection) => {
    await query('BEGIN')
    try {
      const result = await body(query)
      await query('COMMIT')
      return result
    } catch (error) {
      try {
        await query('ROLLBACK')
      } catch {
        connection.destroy()
      }
      throw error
    }
  })
}

type Row = [ontologyType: string, sourceSystem: string, sourceId: string, canonicalId: string]
type Queryable = Pick<Pool, 'query'> | Pick<PoolConnection, 'query'>
/**
 * Reads the mappings stored for these keys over one connection, inside whatever transaction it has
 * open (the legacy import checks a batch in its own transaction), keyed by keyOf(). `lock` makes it
 * a locking read, which sees the latest committed mapping whatever the isolation level.
 */
export async function lookupOn(db: Queryable, keys: IdentifierKey[], { lock = false }: { lock?: boolean } = {}): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  const query: Query = async (sql, values, rowsAsArray) => (await db.query({ sql, values, rowsAsArray }))[0]
  for (const statement of lookupStatements(keys)) {
    await readMappings(query, lock ? { sql: `${statement.sql} FOR UPDATE`, values: statement.values } : statement, found)
  }
  return found
}

const SELECT_MAPPINGS = 'SELECT `OntologyType`, `SourceSystem`, `SourceId`, `CanonicalId` FROM `identifiers`'

/** Adds the stored mappings a look-up statement finds to `found`, keyed by keyOf() (VARBINARY columns arrive as Buffers). */
async function readMappings(query: Query, statement: Statement, found: Map<string, string>): Promise<void> {
  const rows = await query(statement.sql, statement.values, true)
  for (const row of rows as unknown as Array<[Buffer, Buffer, Buffer, string]>) {
    const key = { ontologyType: row[0].toString('utf8'), sourceSystem: row[1].toString('utf8'), sourceId: row[2].toString('utf8') }
    found.set(keyOf(key), row[3])
  }
}

/** Look-up statements for the keys, at most CHUNK_SIZE values each (keys.ts). */
function lookupStatements(keys: IdentifierKey[]): Statement[] {
  return keyLookupStatements(SELECT_MAPPINGS, keys, CHUNK_SIZE)
}

function chunks<T>(items: T[]): T[][] {
  const result: T[][] = []
  for (let i = 0; i < items.length; i += CHUNK_SIZE) result.push(items.slice(i, i + CHUNK_SIZE))
  return result
}
