import type { Pool } from 'mysql2/promise'
import type { Deadline } from '../deadline.js'
import { DependencyUnavailableError, describeError } from '../errors.js'
import { within, withConnection, type Query } from './connection.js'
import { keyLookupStatements, keyOf, type IdentifierKey, type Statement } from './keys.js'

// The read-only side of the identifier store, for the look-up API: it never inserts, locks or
// starts a transaction. Its statements are apart from store.ts's because they also read CreatedAt.

/** At most this many source identifiers in one look-up statement (and in one POST /source-identifiers/lookup). */
export const MAX_LOOKUP_KEYS = 1000

/** One stored row of the identifiers table, its text decoded from UTF-8. */
export interface StoredMapping {
  /** The key as stored: a Concept subtype is stored as Concept. */
  key: IdentifierKey
  canonicalId: string
  /** When the mapping was stored (the row's CreatedAt, to the millisecond), as ISO 8601 in UTC. */
  createdAt: string
}

export type CanonicalIdLookup =
  /** The source identifiers behind the ID, oldest first (a predecessor and its successors share one). */
  | { status: 'mapped'; mappings: StoredMapping[] }
  /** Registered in canonical_ids, so never minted again, but no source identifier maps to it (a legacy ID given out unused, or kept after an import conflict). */
  | { status: 'registered' }
  | { status: 'unknown' }

export interface IdentifierReaderOptions {
  primary: Pool
  /** Where look-ups go first: a read replica, or the primary again. */
  replica?: Pool
  /** Runs before the first statement until it has succeeded once (migrations at start-up). */
  ready?: () => Promise<void>
}

export type IdentifierReader = ReturnType<typeof createIdentifierReader>

/**
 * Reads mappings for the look-up API. Every statement is bounded by the request's Deadline, as the
 * store's are; an unreachable database or a spent budget throws DependencyUnavailableError (503).
 *
 * Reads go to the replica. A replica lags the primary by moments, so what the replica does not
 * find is asked of the primary before it is answered as missing: "not found" means never minted,
 * not "minted a moment ago". Without a separate replica that second question is not asked.
 */
export function createIdentifierReader({ primary, replica = primary, ready }: IdentifierReaderOptions) {
  async function run<T>(deadline: Deadline, stage: string, pool: Pool, body: (query: Query) => Promise<T>): Promise<T> {
    try {
      if (ready) await within(deadline, stage, ready())
      return await withConnection(pool, deadline, stage, body)
    } catch (error) {
      if (error instanceof DependencyUnavailableError) throw error
      throw new DependencyUnavailableError('database', `Database unavailable: ${describeError(error)}`, { cause: error })
    }
  }

  /**
   * The stored mappings of these keys (already normalised: Concept subtypes as Concept), keyed by
   * keyOf(key). Keys with no mapping are absent. At most MAX_LOOKUP_KEYS keys per statement.
   */
  async function findBySourceIdentifiers(keys: IdentifierKey[], deadline: Deadline): Promise<Map<string, StoredMapping>> {
    const stage = 'looking up source identifiers'
    const found = new Map<string, StoredMapping>()
    if (keys.length === 0) return found
    const read = (pool: Pool, wanted: IdentifierKey[]) =>
      run(deadline, stage, pool, async (query) => {
        for (const statement of sourceIdentifierStatements(wanted)) {
          for (const mapping of await readRows(query, statement)) found.set(keyOf(mapping.key), mapping)
        }
      })
    await read(replica, keys)
    const unseen = replica === primary ? [] : keys.filter((key) => !found.has(keyOf(key)))
    if (unseen.length > 0) await read(primary, unseen)
    return found
  }

  /** The source identifiers given this canonical ID (exact, case-sensitive), oldest first. */
  async function findByCanonicalId(canonicalId: string, deadline: Deadline): Promise<CanonicalIdLookup> {
    const stage = 'looking up a canonical ID'
    const read = (pool: Pool) =>
      run(deadline, stage, pool, async (query): Promise<CanonicalIdLookup> => {
        const mappings = await readRows(query, canonicalIdStatement(canonicalId))
        if (mappings.length > 0) return { status: 'mapped', mappings }
        const registered = (await query('SELECT 1 FROM canonical_ids WHERE CanonicalId = ?', [canonicalId])) as unknown[]
        return registered.length > 0 ? { status: 'registered' } : { status: 'unknown' }
      })
    const answer = await read(replica)
    return answer.status === 'mapped' || replica === primary ? answer : read(primary)
  }

  return { findBySourceIdentifiers, findByCanonicalId }
}

// UNIX_TIMESTAMP of a TIMESTAMP column is its stored UTC value (MySQL and MariaDB skip the session
// time zone for a bare column), so createdAt does not depend on the server's or Node's time zone.
const SELECT_MAPPINGS = 'SELECT OntologyType, SourceSystem, SourceId, CanonicalId, UNIX_TIMESTAMP(CreatedAt) FROM identifiers'

export type { Statement }

/** The mappings of one canonical ID, oldest first: a ref read on the CanonicalId index. */
export function canonicalIdStatement(canonicalId: string): Statement {
  return { sql: `${SELECT_MAPPINGS} WHERE CanonicalId = ? ORDER BY CreatedAt, OntologyType, SourceSystem, SourceId`, values: [canonicalId] }
}

/** Rows of SELECT_MAPPINGS as mappings (VARBINARY columns arrive as Buffers, the DECIMAL seconds as text). */
async function readRows(query: Query, statement: Statement): Promise<StoredMapping[]> {
  const rows = (await query(statement.sql, statement.values, true)) as Array<[Buffer, Buffer, Buffer, string, string]>
  return rows.map((row) => ({
    key: { ontologyType: row[0].toString('utf8'), sourceSystem: row[1].toString('utf8'), sourceId: row[2].toString('utf8') },
    canonicalId: row[3],
    createdAt: new Date(Math.round(Number(row[4]) * 1000)).toISOString(),
  }))
}

/** Statements for the keys, at most MAX_LOOKUP_KEYS values each: ranges on the primary key (keys.ts). */
export function sourceIdentifierStatements(keys: IdentifierKey[]): Statement[] {
  return keyLookupStatements(SELECT_MAPPINGS, keys, MAX_LOOKUP_KEYS)
}
