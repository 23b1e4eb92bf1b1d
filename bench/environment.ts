import { Client } from '@elastic/elasticsearch'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import mysql, { type Connection } from 'mysql2/promise'
import { ensureIndex, seedSourceWorks } from '../fixtures/indices.js'
import { localEnv } from '../fixtures/local-env.js'
import { generateCanonicalIds } from '../src/services/canonical-id.js'
import type { IdentifierKey } from '../src/services/identifier-store/keys.js'
import { openDatabase } from '../src/services/identifier-store/database.js'
import type { SourceWork } from './workloads.js'

/** A database and two indices of one run's own. */
export interface Stores {
  database: string
  sourceIndex: string
  targetIndex: string
}

const CHUNK_SIZE = 1000

/** Connections the bench itself uses for setting up, seeding and checking (never inside a measured window). */
export interface Admin {
  sql: Connection
  es: Client
  created: Set<Stores>
}

export async function openAdmin(): Promise<Admin> {
  const sql = await mysql.createConnection({
    host: localEnv.cluster_url,
    port: Number(localEnv.db_port),
    user: localEnv.db_username,
    password: localEnv.db_password,
    charset: 'utf8mb4',
  })
  const es = new Client({ node: `http://${localEnv.es_upstream_host}:${localEnv.es_upstream_port}` })
  return { sql, es, created: new Set() }
}

export function freshStores(): Stores {
  const tag = randomBytes(4).toString('hex')
  return { database: `bench_${tag}`, sourceIndex: `bench-source-${tag}`, targetIndex: `bench-identified-${tag}` }
}

/** The service's environment (the same variable names the deployment sets) for these stores. */
export function serviceEnvironment(stores: Stores, logLevel: string): Record<string, string> {
  return {
    ...localEnv,
    IDENTIFIERS_DATABASE: stores.database,
    es_source_index: stores.sourceIndex,
    es_identified_index: stores.targetIndex,
    APPLY_MIGRATIONS: 'true',
    LOG_LEVEL: logLevel,
    MIGRATIONS_FOLDER: fileURLToPath(new URL('../migrations', import.meta.url)),
  }
}

/** One connection to a bench database on the local server, to apply the real migrations with (then close it). */
export function migrationConnection(database: string) {
  return openDatabase({
    host: localEnv.cluster_url as string,
    port: Number(localEnv.db_port),
    user: localEnv.db_username as string,
    password: localEnv.db_password ?? '',
    database,
    connectionLimit: 1,
    applyMigrations: true,
  })
}

/** Creates the database with the real schema and both indices with the real mappings. */
export async function createStores(admin: Admin, stores: Stores): Promise<void> {
  admin.created.add(stores)
  const database = migrationConnection(stores.database)
  try {
    await Promise.all([
      database.applyMigrations(),
      ensureIndex(admin.es, stores.sourceIndex, 'source'),
      ensureIndex(admin.es, stores.targetIndex, 'identified'),
    ])
  } finally {
    await database.close()
  }
}

export async function seedWorks(admin: Admin, stores: Stores, works: SourceWork[]): Promise<void> {
  for (let i = 0; i < works.length; i += 500) await seedSourceWorks(admin.es, stores.sourceIndex, works.slice(i, i + 500))
}

/** Stores these keys as already minted, each with a canonical ID of its own. */
export async function seedKnown(admin: Admin, stores: Stores, keys: IdentifierKey[]): Promise<void> {
  // Distinct among themselves; a later clash with a minted candidate is retried by whoever mints it.
  const ids = [...new Set(generateCanonicalIds(keys.length + 100))].slice(0, keys.length)
  for (let i = 0; i < keys.length; i += CHUNK_SIZE) {
    const chunk = keys.slice(i, i + CHUNK_SIZE)
    const chunkIds = ids.slice(i, i + CHUNK_SIZE)
    await admin.sql.query(`INSERT INTO \`${stores.database}\`.canonical_ids (CanonicalId, Status) VALUES ?`, [chunkIds.map((id) => [id, 'assigned'])])
    await admin.sql.query(`INSERT INTO \`${stores.database}\`.identifiers (OntologyType, SourceSystem, SourceId, CanonicalId) VALUES ?`, [
      chunk.map((key, j) => [key.ontologyType, key.sourceSystem, key.sourceId, chunkIds[j]]),
    ])
  }
}

/** What a run left behind: mappings stored, and documents in the target index. */
export async function storedCounts(admin: Admin, stores: Stores): Promise<{ mappings: number; documents: number }> {
  const [rows] = await admin.sql.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${stores.database}\`.identifiers`)
  await admin.es.indices.refresh({ index: stores.targetIndex })
  const { count } = await admin.es.count({ index: stores.targetIndex })
  return { mappings: Number(rows[0]?.n), documents: count }
}

export async function dropStores(admin: Admin, stores: Stores): Promise<void> {
  await admin.es.indices.delete({ index: [stores.sourceIndex, stores.targetIndex], ignore_unavailable: true })
  await admin.sql.query(`DROP DATABASE IF EXISTS \`${stores.database}\``)
  admin.created.delete(stores)
}

export async function closeAdmin(admin: Admin): Promise<void> {
  for (const stores of [...admin.created]) await dropStores(admin, stores).catch(() => {})
  await admin.sql.end()
  await admin.es.close()
}

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  mariadb: string
  elasticsearch: string
  elasticsearchHeapMiB?: number
  /** 1-minute load average when the bench started and when it finished: other work on the machine skews everything. */
  loadAverage: { start: number; end?: number }
}

export async function describeMachine(admin: Admin): Promise<Machine> {
  let cpu = os.cpus()[0]?.model ?? 'unknown'
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu
  } catch {
    // Not Linux: os.cpus() it is.
  }
  const [rows] = await admin.sql.query<mysql.RowDataPacket[]>('SELECT VERSION() AS version')
  // GET / is not routed on every distribution; the node info always is.
  const nodes = (await admin.es.nodes.info({ node_id: '_local', metric: 'jvm', filter_path: 'nodes.*.version,nodes.*.jvm.mem.heap_max_in_bytes' })) as unknown as {
    nodes: Record<string, { version: string; jvm?: { mem?: { heap_max_in_bytes?: number } } }>
  }
  const node = Object.values(nodes.nodes)[0]
  const heap = node?.jvm?.mem?.heap_max_in_bytes
  return {
    cpu,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    mariadb: String(rows[0]?.version),
    elasticsearch: node?.version ?? 'unknown',
    ...(heap ? { elasticsearchHeapMiB: Math.round(heap / 1024 ** 2) } : {}),
    loadAverage: { start: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 },
  }
}
