/**
 * THE FLOOR: the same workload with only the work the minting design cannot avoid, for comparison
 * with the service. Per batch of source ids: one mget of the source works; the look-up SELECTs
 * (OR of `OntologyType = ? AND SourceSystem = ? AND SourceId IN (...)`, at most 1000 values per
 * statement); when anything is new, BEGIN, multi-row INSERTs into canonical_ids and identifiers,
 * COMMIT; the canonical IDs written into the works; one bulk index into the target index.
 * mysql2 and @elastic/elasticsearch are used directly: no HTTP server, no framework, no ORM, and
 * no search of the JSON for identifiers, because it knows where they sit in the synthetic works
 * (fixtures/works.ts). Configured by the same environment variables as the service, read when
 * this module loads. floor.ts serves it to bench/run.ts over IPC; cold-floor.ts is the same as a
 * Lambda-style handler, for the cold start of the floor.
 */
import { Client, HttpConnection } from '@elastic/elasticsearch'
import mysql, { type PoolConnection, type ResultSetHeader } from 'mysql2/promise'
import { generateCanonicalIds } from '../src/services/canonical-id.js'

const CHUNK_SIZE = 1000

interface SourceIdentifier {
  identifierType: { id: string }
  ontologyType: string
  value: string
}

interface IdentifiableNode {
  sourceIdentifier: SourceIdentifier
  predecessorIdentifier?: SourceIdentifier
  canonicalId?: string
  type?: string
  identifiedType?: string
}

interface SyntheticWork {
  state: IdentifiableNode
  data: {
    items: Array<{ id: IdentifiableNode }>
    subjects: Array<{ id: IdentifiableNode }>
    contributors: Array<{ agent: { id: IdentifiableNode } }>
  }
}

type Key = [ontologyType: string, sourceSystem: string, sourceId: string]

const env = process.env as Record<string, string>
const sourceIndex = env.es_source_index as string
const targetIndex = env.es_identified_index as string

const pool = mysql.createPool({
  host: env.cluster_url,
  port: Number(env.db_port),
  user: env.db_username,
  password: env.db_password ?? '',
  database: env.IDENTIFIERS_DATABASE,
  connectionLimit: 10,
  maxIdle: 10,
  charset: 'utf8mb4',
  // As the service: affected rows then tell whether every mapping went in.
  flags: ['-FOUND_ROWS'],
})
let sqlStatements = 0
// The design's isolation level, set once per connection as the service does.
pool.on('connection', (connection) => {
  sqlStatements++
  ;(connection as unknown as { query(sql: string, cb: () => void): void }).query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', () => {})
})

// The service's client options, node:http connections included (src/plugins/elasticsearch.ts): the
// floor must not pay for a choice the service avoids, nor the other way round.
const es = new Client({
  node: `http://${env.es_upstream_host}:${env.es_upstream_port}`,
  requestTimeout: 20_000,
  maxRetries: 2,
  compression: false,
  Connection: HttpConnection,
})
let esRequests = 0
es.diagnostic.on('request', () => esRequests++)

// Person and the other agent types share canonical IDs with concepts; the synthetic works only use Person.
const keyOf = (id: SourceIdentifier): Key => [id.ontologyType === 'Person' ? 'Concept' : id.ontologyType, id.identifierType.id, id.value]
const keyString = (key: Key) => `${key[0]}\u0000${key[1]}\u0000${key[2]}`

function chunks<T>(items: T[]): T[][] {
  const result: T[][] = []
  for (let i = 0; i < items.length; i += CHUNK_SIZE) result.push(items.slice(i, i + CHUNK_SIZE))
  return result
}

/** Look-up statements, each filled up to CHUNK_SIZE values (a group may span two statements). */
function lookupStatements(keys: Key[]): Array<{ sql: string; params: string[] }> {
  const groups = new Map<string, { ontologyType: string; sourceSystem: string; sourceIds: string[] }>()
  for (const [ontologyType, sourceSystem, sourceId] of keys) {
    const name = `${ontologyType}\u0000${sourceSystem}`
    let group = groups.get(name)
    if (!group) groups.set(name, (group = { ontologyType, sourceSystem, sourceIds: [] }))
    group.sourceIds.push(sourceId)
  }
  const statements: Array<{ sql: string; params: string[] }> = []
  let conditions: string[] = []
  let params: string[] = []
  let values = 0
  const flush = () => {
    statements.push({
      sql: `SELECT OntologyType, SourceSystem, SourceId, CanonicalId FROM identifiers WHERE ${conditions.join(' OR ')}`,
      params,
    })
    conditions = []
    params = []
    values = 0
  }
  for (const group of groups.values()) {
    for (let at = 0; at < group.sourceIds.length;) {
      if (values === CHUNK_SIZE) flush()
      const take = Math.min(CHUNK_SIZE - values, group.sourceIds.length - at)
      conditions.push(`(OntologyType = ? AND SourceSystem = ? AND SourceId IN (${new Array(take).fill('?').join(',')}))`)
      params.push(group.ontologyType, group.sourceSystem, ...group.sourceIds.slice(at, at + take))
      values += take
      at += take
    }
  }
  if (conditions.length > 0) flush()
  return statements
}

async function lookup(keys: Key[]): Promise<Map<string, string>> {
  const known = new Map<string, string>()
  for (const { sql, params } of lookupStatements(keys)) {
    sqlStatements++
    const [rows] = await pool.query<mysql.RowDataPacket[]>({ sql, rowsAsArray: true }, params)
    for (const row of rows as unknown as Array<[Buffer, Buffer, Buffer, string]>) known.set(`${row[0]}\u0000${row[1]}\u0000${row[2]}`, row[3])
  }
  return known
}

async function query(connection: PoolConnection, sql: string, params?: unknown[]) {
  sqlStatements++
  return connection.query(sql, params)
}

/** Inserts the new mappings in one transaction; new canonical IDs first (the foreign key needs them). */
async function insert(fresh: string[], rows: Array<[string, string, string, string]>): Promise<void> {
  const connection = await pool.getConnection()
  try {
    await query(connection, 'BEGIN')
    for (const chunk of chunks(fresh)) {
      await query(connection, 'INSERT INTO canonical_ids (CanonicalId, Status) VALUES ?', [chunk.map((id) => [id, 'assigned'])])
    }
    let inserted = 0
    for (const chunk of chunks(rows)) {
      const [result] = await query(
        connection,
        'INSERT INTO identifiers (OntologyType, SourceSystem, SourceId, CanonicalId) VALUES ? ON DUPLICATE KEY UPDATE CanonicalId = CanonicalId',
        [chunk],
      )
      inserted += (result as ResultSetHeader).affectedRows
    }
    // The bench's works never overlap, so a concurrent winner would be a bench bug.
    if (inserted !== rows.length) throw new Error(`floor: ${rows.length - inserted} mappings already existed`)
    await query(connection, 'COMMIT')
  } catch (error) {
    await query(connection, 'ROLLBACK').catch(() => {})
    throw error
  } finally {
    connection.release()
  }
}

function embed(node: IdentifiableNode, canonicalId: string): void {
  node.canonicalId = canonicalId
  if (typeof node.identifiedType === 'string') {
    node.type = node.identifiedType
    delete node.identifiedType
  } else if (node.type === 'Identifiable') {
    node.type = 'Identified'
  }
}

export async function mint(ids: string[]): Promise<void> {
  const { docs } = await es.mget<SyntheticWork>({ index: sourceIndex, ids })
  const works: Array<{ work: SyntheticWork; nodes: IdentifiableNode[]; keys: string[] }> = []
  const lookupKeys = new Map<string, Key>()
  for (const doc of docs) {
    if (!('found' in doc) || !doc.found || !doc._source) throw new Error(`floor: ${doc._id} not found in ${sourceIndex}`)
    const work = doc._source
    const nodes = [work.state]
    for (const item of work.data.items) nodes.push(item.id)
    for (const subject of work.data.subjects) nodes.push(subject.id)
    for (const contributor of work.data.contributors) nodes.push(contributor.agent.id)
    const keys: string[] = []
    for (const node of nodes) {
      const key = keyOf(node.sourceIdentifier)
      const name = keyString(key)
      keys.push(name)
      lookupKeys.set(name, key)
    }
    const predecessor = work.state.predecessorIdentifier
    if (predecessor) {
      const key = keyOf(predecessor)
      lookupKeys.set(keyString(key), key)
    }
    works.push({ work, nodes, keys })
  }

  const known = await lookup([...lookupKeys.values()])

  // Unknown keys inherit the root's predecessor's canonical ID, or get a new one.
  const inheritedOrNew = new Map<string, string | undefined>()
  for (const { work, keys } of works) {
    for (let i = 0; i < keys.length; i++) {
      const name = keys[i] as string
      if (known.has(name) || inheritedOrNew.has(name)) continue
      const predecessor = i === 0 ? work.state.predecessorIdentifier : undefined
      const inherited = predecessor ? known.get(keyString(keyOf(predecessor))) : undefined
      if (predecessor && inherited === undefined) throw new Error('floor: predecessor has no canonical ID')
      inheritedOrNew.set(name, inherited)
    }
  }
  if (inheritedOrNew.size > 0) {
    for (let attempt = 1; ; attempt++) {
      const fresh = generateCanonicalIds([...inheritedOrNew.values()].filter((id) => id === undefined).length)
      let next = 0
      const rows: Array<[string, string, string, string]> = []
      for (const [name, inherited] of inheritedOrNew) rows.push([...(lookupKeys.get(name) as Key), inherited ?? (fresh[next++] as string)])
      // One global row order, so concurrent transactions take their locks in the same order.
      rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0))
      try {
        await insert(fresh, rows)
      } catch (error) {
        // A random candidate that is already taken (the design retries with new ones, as the service does).
        // MariaDB names only the key ("for key 'PRIMARY'"), so look at the statement too, as the service does.
        const { code, sql } = error as { code?: string; sql?: string }
        const collision = code === 'ER_DUP_ENTRY' && /canonical_ids/.test(`${String(error)} ${sql ?? ''}`)
        if (collision && attempt < 8) continue
        throw error
      }
      for (const row of rows) known.set(keyString([row[0], row[1], row[2]]), row[3])
      break
    }
  }

  const operations: unknown[] = []
  for (const { work, nodes, keys } of works) {
    for (let i = 0; i < nodes.length; i++) embed(nodes[i] as IdentifiableNode, known.get(keys[i] as string) as string)
    operations.push({ index: { _index: targetIndex, _id: work.state.canonicalId } }, work)
  }
  const response = await es.bulk({ operations, filter_path: 'errors,items.*._id,items.*.error' })
  if (response.errors) throw new Error(`floor: bulk rejected documents: ${JSON.stringify(response.items.find((item) => item.index?.error))}`)
}

/** What this process sent, counted on its side (the bench cross-checks the servers' counts with it). */
export function floorStats(): { sqlStatements: number; esRequests: number } {
  return { sqlStatements, esRequests }
}

export async function closeFloor(): Promise<void> {
  await Promise.all([pool.end(), es.close()])
}
