import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import { rootCause } from '../errors.js'
import { describeKey, keyOf, type IdentifierKey } from '../identifier-store/keys.js'
import { lookupOn } from '../identifier-store/store.js'
import { storedOntologyType } from '../work-identifiers.js'
import { unusedCanonicalIds } from './checks.js'
import { MAPPING_COLUMNS, type LegacyLayout } from './source.js'
import { after, paginationColumns, quote, selectMapping, utf8Of } from './sql.js'

// The import's own bookkeeping lives beside our tables in the target database, created by the
// import rather than by a migration: the service never reads it, and dropping it once the
// adoption is over costs nothing but the resume point.
const BOOKKEEPING = [
  `CREATE TABLE IF NOT EXISTS legacy_import_progress (
     Source varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
     Phase enum('identifiers','canonical_ids','done') NOT NULL,
     LastKey text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
     Counts text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
     StartedAt timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
     UpdatedAt timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
     PRIMARY KEY (Source)
   )`,
  `CREATE TABLE IF NOT EXISTS legacy_import_conflicts (
     Id bigint unsigned NOT NULL AUTO_INCREMENT,
     Source varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
     Kind enum('key-has-another-id','id-has-another-key','legacy-collision') NOT NULL,
     LegacyOntologyType varbinary(1020) NULL,
     OntologyType varbinary(64) NULL,
     SourceSystem varbinary(1020) NULL,
     SourceId varbinary(1020) NULL,
     LegacyCanonicalId char(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
     Existing varbinary(2048) NOT NULL,
     CreatedAt timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
     PRIMARY KEY (Id),
     KEY legacy_import_conflicts_source (Source)
   )`,
]

/** Creates the progress and conflicts tables in the target database if they are missing. */
export async function ensureBookkeeping(target: Pool): Promise<void> {
  for (const statement of BOOKKEEPING) await target.query(statement)
}

/** What happened to the legacy rows of one ontology type (as stored here). */
export interface TypeCounts {
  /** Legacy rows read. */
  rows: number
  /** Rows whose key is here with the legacy canonical ID: inserted now, or found already there. */
  confirmed: number
  /** Rows with the same key and ID as a row before them in the same batch (Concept normalisation). */
  merged: number
  /** Rows not imported because of a conflict (legacy_import_conflicts has each). */
  conflicts: number
}

export interface PassCounts {
  byType: Record<string, TypeCounts>
  /** Mappings this pass inserted. */
  imported: number
  /** Mappings found already here with the legacy canonical ID (an earlier run, or the same key under another subtype). */
  present: number
  /** two-table: canonical IDs given out that no legacy key uses. */
  unusedIds: { rows: number; registered: number; present: number; conflicts: number }
}

export type Phase = 'identifiers' | 'canonical_ids' | 'done'

/** Where a pass is: stored in legacy_import_progress after every batch, in the batch's transaction. */
export interface Progress {
  source: string
  phase: Phase
  /** Pagination key of the last row copied in this phase (legacy text), or null at its start. */
  lastKey: string[] | null
  counts: PassCounts
  /** Whether this run continued a pass an earlier run left unfinished. */
  resumed: boolean
}

export interface Conflict {
  kind: 'key-has-another-id' | 'id-has-another-key' | 'legacy-collision'
  /** The legacy row's OntologyType as written there (Person, say), or null for an unused canonical ID. */
  legacyOntologyType: string | null
  /** The key as stored here, or null for an unused canonical ID. */
  key: IdentifierKey | null
  legacyCanonicalId: string
  /** What stands in the way: the canonical ID the key has here, or the key that holds the canonical ID here. */
  existing: string
}

const emptyCounts = (): PassCounts => ({ byType: {}, imported: 0, present: 0, unusedIds: { rows: 0, registered: 0, present: 0, conflicts: 0 } })

function typeCounts(counts: PassCounts, type: string): TypeCounts {
  return (counts.byType[type] ??= { rows: 0, confirmed: 0, merged: 0, conflicts: 0 })
}

function addCounts(total: PassCounts, delta: PassCounts): PassCounts {
  const sum = structuredClone(total)
  for (const [type, d] of Object.entries(delta.byType)) {
    const t = typeCounts(sum, type)
    t.rows += d.rows
    t.confirmed += d.confirmed
    t.merged += d.merged
    t.conflicts += d.conflicts
  }
  sum.imported += delta.imported
  sum.present += delta.present
  for (const name of ['rows', 'registered', 'present', 'conflicts'] as const) sum.unusedIds[name] += delta.unusedIds[name]
  return sum
}

/**
 * Continues the unfinished pass of this source, or starts a new one (phase `identifiers`, counts
 * zero, conflicts of the previous pass cleared) when there is none or the last one finished.
 */
export async function startPass(target: Pool, source: string, restart = false): Promise<Progress> {
  const [rows] = await target.query<Array<RowDataPacket & { Phase: Phase; LastKey: string | null; Counts: string }>>(
    'SELECT Phase, LastKey, Counts FROM legacy_import_progress WHERE Source = ?',
    [source],
  )
  const row = rows[0]
  if (row && row.Phase !== 'done' && !restart) {
    return { source, phase: row.Phase, lastKey: row.LastKey === null ? null : (JSON.parse(row.LastKey) as string[]), counts: JSON.parse(row.Counts) as PassCounts, resumed: true }
  }
  const progress: Progress = { source, phase: 'identifiers', lastKey: null, counts: emptyCounts(), resumed: false }
  const connection = await target.getConnection()
  try {
    await transaction(connection, async () => {
      await connection.query('DELETE FROM legacy_import_conflicts WHERE Source = ?', [source])
      await connection.query(
        `INSERT INTO legacy_import_progress (Source, Phase, LastKey, Counts) VALUES (?, 'identifiers', NULL, ?)
         ON DUPLICATE KEY UPDATE Phase = VALUES(Phase), LastKey = NULL, Counts = VALUES(Counts), StartedAt = CURRENT_TIMESTAMP(3), UpdatedAt = CURRENT_TIMESTAMP(3)`,
        [source, JSON.stringify(progress.counts)],
      )
    })
  } finally {
    connection.release()
  }
  return progress
}

export interface CopyOptions {
  legacy: Pool
  target: Pool
  layout: LegacyLayout
  progress: Progress
  batchSize: number
  /** Aborting stops the pass after the batch in flight has committed. */
  signal?: AbortSignal
  /** Called after every committed batch with the progress as stored. */
  onBatch?: (progress: Progress) => void
}

type LegacyRow = Array<string | null>

/**
 * Copies the legacy mappings in keyset-paginated batches, one transaction per batch, the progress
 * row updated in the same transaction (so a run killed at any point resumes exactly where its last
 * commit left off). Then, for the two-table layout, registers the canonical IDs given out that no
 * key uses. Returns 'interrupted' when the signal stopped it, otherwise 'finished'; mutates and
 * returns nothing else (the progress object follows the stored row).
 */
export async function copyLegacy(options: CopyOptions): Promise<'finished' | 'interrupted'> {
  const connection = await options.target.getConnection()
  try {
    if (options.progress.phase === 'identifiers') {
      if ((await copyPhase(options, connection, mappingBatches(options), writeMappings)) === 'interrupted') return 'interrupted'
      await moveTo(connection, options.progress, options.layout.canonicalIds ? 'canonical_ids' : 'done')
    }
    if (options.progress.phase === 'canonical_ids') {
      if ((await copyPhase(options, connection, unusedIdBatches(options), writeUnusedIds)) === 'interrupted') return 'interrupted'
      await moveTo(connection, options.progress, 'done')
    }
    return 'finished'
  } finally {
    connection.release()
  }
}

interface BatchSource {
  read(lastKey: string[] | null): Promise<LegacyRow[]>
  keyOf(row: LegacyRow): string[]
}

type BatchWriter = (connection: PoolConnection, rows: LegacyRow[], options: CopyOptions) => Promise<{ counts: PassCounts; conflicts: Conflict[] }>

async function copyPhase(options: CopyOptions, connection: PoolConnection, batches: BatchSource, write: BatchWriter): Promise<'finished' | 'interrupted'> {
  const { progress, batchSize, signal } = options
  let rows = await batches.read(progress.lastKey)
  while (rows.length > 0) {
    if (signal?.aborted) return 'interrupted'
    const lastKey = batches.keyOf(rows[rows.length - 1] as LegacyRow)
    // The next batch is read from the legacy server while this one is written here.
    const next = rows.length < batchSize ? Promise.resolve([]) : batches.read(lastKey)
    next.catch(() => {}) // awaited below; a failed write must not leave it unhandled
    const outcome = await withRetries(() =>
      transaction(connection, async () => {
        const batch = await write(connection, rows, options)
        const counts = addCounts(progress.counts, batch.counts)
        await recordConflicts(connection, progress.source, batch.conflicts)
        await connection.query('UPDATE legacy_import_progress SET LastKey = ?, Counts = ?, UpdatedAt = CURRENT_TIMESTAMP(3) WHERE Source = ?', [
          JSON.stringify(lastKey),
          JSON.stringify(counts),
          progress.source,
        ])
        return counts
      }),
    )
    progress.counts = outcome
    progress.lastKey = lastKey
    options.onBatch?.(progress)
    rows = await next
  }
  return 'finished'
}

async function moveTo(connection: PoolConnection, progress: Progress, phase: Phase): Promise<void> {
  await connection.query('UPDATE legacy_import_progress SET Phase = ?, LastKey = NULL, UpdatedAt = CURRENT_TIMESTAMP(3) WHERE Source = ?', [phase, progress.source])
  progress.phase = phase
  progress.lastKey = null
}

function mappingBatches({ legacy, layout, batchSize }: CopyOptions): BatchSource {
  const columns = paginationColumns(layout)
  const positions = layout.paginationKey.map((column) => MAPPING_COLUMNS.indexOf(column))
  return {
    async read(lastKey) {
      const where = lastKey ? after(columns, lastKey) : undefined
      const [rows] = await legacy.query({
        sql: `SELECT ${selectMapping(layout)} FROM ${quote(layout.table)} ${where ? `WHERE ${where.sql}` : ''} ORDER BY ${columns.map(quote).join(', ')} LIMIT ${batchSize}`,
        values: where?.values ?? [],
        rowsAsArray: true,
      })
      return rows as LegacyRow[]
    },
    keyOf: (row) => positions.map((i) => row[i] as string),
  }
}

function unusedIdBatches({ legacy, layout, batchSize }: CopyOptions): BatchSource {
  const unused = unusedCanonicalIds(layout)
  return {
    async read(lastKey) {
      const [rows] = await legacy.query({
        sql: `SELECT ${utf8Of(unused.column)} ${unused.from} ${lastKey ? `AND ${unused.column} > ?` : ''} ORDER BY ${unused.column} LIMIT ${batchSize}`,
        values: lastKey ?? [],
        rowsAsArray: true,
      })
      return rows as LegacyRow[]
    },
    keyOf: (row) => [row[0] as string],
  }
}

interface Entry {
  key: IdentifierKey
  keyId: string
  legacyOntologyType: string
  canonicalId: string
}

/**
 * One batch of mappings, inside the batch's transaction: registers the canonical IDs as assigned,
 * then inserts the mappings, never changing one that exists. A key here with another canonical ID,
 * or a canonical ID here held by a key the legacy table does not give it, is a conflict: the
 * legacy row is reported and not written (its canonical ID stays registered, so it is never minted
 * for anything else).
 */
async function writeMappings(connection: PoolConnection, rows: LegacyRow[], { legacy, layout }: CopyOptions) {
  const counts = emptyCounts()
  const conflicts: Conflict[] = []
  const entries = new Map<string, Entry>()
  for (const row of rows) {
    if (row.some((value) => value === null)) throw new Error(`legacy row with a NULL value appeared after the checks: ${JSON.stringify(row)}`)
    const [legacyOntologyType, sourceSystem, sourceId, canonicalId] = row as string[]
    const key = { ontologyType: storedOntologyType(legacyOntologyType as string), sourceSystem: sourceSystem as string, sourceId: sourceId as string }
    const type = typeCounts(counts, key.ontologyType)
    type.rows++
    const keyId = keyOf(key)
    const first = entries.get(keyId)
    if (!first) entries.set(keyId, { key, keyId, legacyOntologyType: legacyOntologyType as string, canonicalId: canonicalId as string })
    else if (first.canonicalId === canonicalId) type.merged++
    else {
      type.conflicts++
      conflicts.push({ kind: 'legacy-collision', legacyOntologyType: legacyOntologyType as string, key, legacyCanonicalId: canonicalId as string, existing: first.canonicalId })
    }
  }

  const ids = [...new Set([...entries.values()].map((e) => e.canonicalId))]
  const heldElsewhere = await registerCanonicalIds(connection, ids, async (holders) => {
    // A holder is expected when the legacy table gives it that ID: in this batch, or elsewhere
    // (predecessors sharing an ID across batches).
    const unexpected = holders.filter((h) => entries.get(keyOf(h.key))?.canonicalId !== h.canonicalId)
    if (unexpected.length === 0) return unexpected
    const legacyPairs = await legacyMappingsOf(legacy, layout, [...new Set(unexpected.map((h) => h.canonicalId))])
    return unexpected.filter((h) => !legacyPairs.has(`${keyOf(h.key)} ${h.canonicalId}`))
  })

  const insertable: Entry[] = []
  for (const entry of entries.values()) {
    const holder = heldElsewhere.get(entry.canonicalId)
    if (holder === undefined) insertable.push(entry)
    else {
      typeCounts(counts, entry.key.ontologyType).conflicts++
      conflicts.push({ kind: 'id-has-another-key', legacyOntologyType: entry.legacyOntologyType, key: entry.key, legacyCanonicalId: entry.canonicalId, existing: holder })
    }
  }
  if (insertable.length === 0) return { counts, conflicts }

  // A no-op update on a duplicate key: an existing mapping is never changed, and with FOUND_ROWS
  // off the affected-row count says how many went in.
  const [inserted] = await connection.query<ResultSetHeader>(
    'INSERT INTO identifiers (OntologyType, SourceSystem, SourceId, CanonicalId) VALUES ? ON DUPLICATE KEY UPDATE CanonicalId = CanonicalId',
    [insertable.map((e) => [e.key.ontologyType, e.key.sourceSystem, e.key.sourceId, e.canonicalId])],
  )
  counts.imported = inserted.affectedRows
  if (inserted.affectedRows === insertable.length) {
    for (const entry of insertable) typeCounts(counts, entry.key.ontologyType).confirmed++
    return { counts, conflicts }
  }
  // Some keys were here already: from an earlier run, or minted by the live service. A locking
  // read sees the latest committed mapping.
  const here = await lookupOn(connection, insertable.map((e) => e.key), { lock: true })
  let confirmed = 0
  for (const entry of insertable) {
    const canonicalId = here.get(entry.keyId)
    if (canonicalId === undefined) throw new Error(`${describeKey(entry.key)} was neither inserted nor found`)
    if (canonicalId === entry.canonicalId) {
      confirmed++
      typeCounts(counts, entry.key.ontologyType).confirmed++
    } else {
      typeCounts(counts, entry.key.ontologyType).conflicts++
      conflicts.push({ kind: 'key-has-another-id', legacyOntologyType: entry.legacyOntologyType, key: entry.key, legacyCanonicalId: entry.canonicalId, existing: canonicalId })
    }
  }
  counts.present = confirmed - inserted.affectedRows
  return { counts, conflicts }
}

/** One batch of canonical IDs given out that no legacy key uses: registered as assigned; one that a key here holds is a conflict. */
async function writeUnusedIds(connection: PoolConnection, rows: LegacyRow[]) {
  const counts = emptyCounts()
  const conflicts: Conflict[] = []
  const ids = [...new Set(rows.map((row) => row[0] as string))]
  counts.unusedIds.rows = rows.length
  const heldElsewhere = await registerCanonicalIds(connection, ids, async (holders) => holders, (registered) => (counts.unusedIds.registered = registered))
  for (const [canonicalId, holder] of heldElsewhere) {
    conflicts.push({ kind: 'id-has-another-key', legacyOntologyType: null, key: null, legacyCanonicalId: canonicalId, existing: holder })
  }
  counts.unusedIds.conflicts = heldElsewhere.size
  counts.unusedIds.present = ids.length - counts.unusedIds.registered - heldElsewhere.size
  return { counts, conflicts }
}

interface Holder {
  key: IdentifierKey
  canonicalId: string
}

/**
 * Registers canonical IDs as assigned. Where some were here already, reads which keys here hold
 * them and asks `unexpected` which of those holders the legacy data does not account for. Returns
 * each canonical ID held by such a key, with that key described.
 */
async function registerCanonicalIds(
  connection: PoolConnection,
  ids: string[],
  unexpected: (holders: Holder[]) => Promise<Holder[]>,
  onRegistered?: (registered: number) => void,
): Promise<Map<string, string>> {
  const heldElsewhere = new Map<string, string>()
  if (ids.length === 0) return heldElsewhere
  const [registered] = await connection.query<ResultSetHeader>(
    'INSERT INTO canonical_ids (CanonicalId, Status) VALUES ? ON DUPLICATE KEY UPDATE CanonicalId = CanonicalId',
    [ids.map((id) => [id, 'assigned'])],
  )
  onRegistered?.(registered.affectedRows)
  // Every ID new here: no key can hold one yet (the foreign key needs the canonical_ids row first).
  if (registered.affectedRows === ids.length) return heldElsewhere
  await connection.query("UPDATE canonical_ids SET Status = 'assigned' WHERE Status <> 'assigned' AND CanonicalId IN (?)", [ids])
  const [rows] = await connection.query({
    sql: 'SELECT OntologyType, SourceSystem, SourceId, CanonicalId FROM identifiers WHERE CanonicalId IN (?)',
    values: [ids],
    rowsAsArray: true,
  })
  const holders = (rows as Array<[Buffer, Buffer, Buffer, string]>).map(([ontologyType, sourceSystem, sourceId, canonicalId]) => ({
    key: { ontologyType: ontologyType.toString('utf8'), sourceSystem: sourceSystem.toString('utf8'), sourceId: sourceId.toString('utf8') },
    canonicalId,
  }))
  for (const holder of await unexpected(holders)) {
    if (!heldElsewhere.has(holder.canonicalId)) heldElsewhere.set(holder.canonicalId, describeKey(holder.key))
  }
  return heldElsewhere
}

/** The legacy mappings of these canonical IDs, as `keyOf(key as stored here) canonicalId` strings. */
async function legacyMappingsOf(legacy: Pool, layout: LegacyLayout, ids: string[]): Promise<Set<string>> {
  const [rows] = await legacy.query({
    sql: `SELECT ${selectMapping(layout)} FROM ${quote(layout.table)} WHERE ${quote(layout.columns.CanonicalId.name)} IN (?)`,
    values: [ids],
    rowsAsArray: true,
  })
  const pairs = new Set<string>()
  for (const [type, system, id, canonicalId] of rows as string[][]) {
    // The legacy comparison may fold case; only the exact ID counts.
    pairs.add(`${keyOf({ ontologyType: storedOntologyType(type as string), sourceSystem: system as string, sourceId: id as string })} ${canonicalId}`)
  }
  return pairs
}

async function recordConflicts(connection: PoolConnection, source: string, conflicts: Conflict[]): Promise<void> {
  if (conflicts.length === 0) return
  await connection.query(
    'INSERT INTO legacy_import_conflicts (Source, Kind, LegacyOntologyType, OntologyType, SourceSystem, SourceId, LegacyCanonicalId, Existing) VALUES ?',
    [conflicts.map((c) => [source, c.kind, c.legacyOntologyType, c.key?.ontologyType ?? null, c.key?.sourceSystem ?? null, c.key?.sourceId ?? null, c.legacyCanonicalId, c.existing])],
  )
}

/** The conflicts of a source's current pass: how many, and the first few described. */
export async function readConflicts(target: Pool, source: string, limit = 5): Promise<{ count: number; examples: string[] }> {
  const [totals] = await target.query<Array<RowDataPacket & { n: number }>>('SELECT COUNT(*) AS n FROM legacy_import_conflicts WHERE Source = ?', [source])
  const [rows] = await target.query({
    sql: 'SELECT Kind, LegacyOntologyType, SourceSystem, SourceId, LegacyCanonicalId, Existing FROM legacy_import_conflicts WHERE Source = ? ORDER BY Id LIMIT ?',
    values: [source, limit],
    rowsAsArray: true,
  })
  const text = (value: Buffer | null) => (value === null ? '' : value.toString('utf8'))
  const examples = (rows as Array<[string, Buffer | null, Buffer | null, Buffer | null, string, Buffer]>).map(([kind, type, system, id, canonicalId, existing]) => {
    const what = type === null ? `canonical ID "${canonicalId}" (no legacy key uses it)` : `${text(type)}[${text(system)}/${text(id)}] → "${canonicalId}"`
    switch (kind) {
      case 'key-has-another-id':
        return `${what}: the key has "${text(existing)}" here (kept)`
      case 'id-has-another-key':
        return `${what}: the canonical ID belongs to ${text(existing)} here (kept)`
      default:
        return `${what}: another legacy row gives the same key "${text(existing)}"`
    }
  })
  return { count: Number(totals[0]?.n ?? 0), examples }
}

const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT'])
const MAX_ATTEMPTS = 8

/** Runs a batch again after a deadlock or lock wait timeout with the live service (its transaction was rolled back whole). */
async function withRetries<T>(body: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await body()
    } catch (error) {
      const code = (rootCause(error) as { code?: string }).code ?? ''
      if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has(code)) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2000, 50 * 2 ** attempt)))
    }
  }
}

async function transaction<T>(connection: PoolConnection, body: () => Promise<T>): Promise<T> {
  await connection.query('BEGIN')
  try {
    const result = await body()
    await connection.query('COMMIT')
    return result
  } catch (error) {
    await connection.query('ROLLBACK').catch(() => {})
    throw error
  }
}
