/**
 * `--workload lookup`: the read-only look-up API at scale. One store filled with `--rows` mappings
 * (bench/fill-identifiers.ts), one empty, each served by the production app in a child process
 * (as the other workloads are). Requests alternate between the two, so that whatever else loads
 * the machine weighs on both alike: POST /source-identifiers/lookup with 1,000 keys drawn at random
 * from the filled rows, then single GET /source-identifiers and GET /canonical-ids/{canonicalId}.
 * Latency is the bench's own, from sending a request to its last byte, over node:http keep-alive.
 * Beside each POST, the statement the service would run for another 1,000 keys is sent straight to
 * the database over mysql2, to show how much of a look-up is the database's (other keys, so that
 * neither finds the other's pages already in the buffer pool).
 * The EXPLAIN of each look-up statement the service runs is read on the filled store.
 */
import http from 'node:http'
import os from 'node:os'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import { localEnv } from '../fixtures/local-env.js'
import { canonicalIdStatement, MAX_LOOKUP_KEYS, sourceIdentifierStatements, type Statement } from '../src/services/identifier-store/reader.js'
import { startService } from './children.js'
import { createStores, dropStores, freshStores, serviceEnvironment, type Stores } from './environment.js'
import { fillIdentifiers, filledCanonicalId, filledKey, type FillResult } from './fill-identifiers.js'
import { summarise, type LatencySummary } from './load.js'
import type { Context } from './measure.js'

export interface ExplainRow {
  table: string
  type: string
  key: string | null
  rows: number
  extra: string | null
}

export interface LookupTableResult {
  /** Mappings in the table. */
  rows: number
  /** POST /source-identifiers/lookup, 1,000 keys each. */
  bulk: LatencySummary
  /** The service's statement for 1,000 other keys of the same kind, sent straight over mysql2 from the bench: what the database alone takes. */
  bulkStatement: LatencySummary
  /** How many of each request's 1,000 keys were found (every request agreed, or the run failed). */
  foundPerRequest: number
  sourceIdentifier: LatencySummary
  canonicalId: LatencySummary
}

export interface LookupBenchResult {
  rows: number
  keysPerRequest: number
  fill?: FillResult
  /** The filled tables' data and indexes, and the server's buffer pool, in bytes. */
  sizes?: { identifiersBytes: number; canonicalIdsBytes: number; bufferPoolBytes: number }
  filled?: LookupTableResult
  empty?: LookupTableResult
  explain?: { sourceIdentifiers: ExplainRow[]; canonicalId: ExplainRow[]; canonicalIdRegistered: ExplainRow[] }
  /** 1-minute load average when the measured requests started and ended. */
  loadAverage?: { start: number; end: number }
  error?: string
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })

function send(url: string, method: 'GET' | 'POST', body?: string): Promise<{ status: number; text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const request = http.request(
      url,
      { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }))
        response.on('error', reject)
      },
    )
    request.on('error', reject)
    request.end(body)
  })
}

/** A small seeded generator (mulberry32), so every run asks for the same rows. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` distinct row numbers (a repeated key is answered once, and would make a request smaller). */
function distinctRows(draw: () => number, count: number): number[] {
  const rows = new Set<number>()
  while (rows.size < count) rows.add(draw())
  return [...rows]
}

const asked = (n: number) => {
  const key = filledKey(n)
  return { ontologyType: key.ontologyType, identifierType: key.sourceSystem, value: key.sourceId }
}

const connect = (database: string) =>
  mysql.createConnection({ host: localEnv.cluster_url, port: Number(localEnv.db_port), user: localEnv.db_username, password: localEnv.db_password ?? '', database, charset: 'utf8mb4' })

async function explain(database: string, statement: Statement): Promise<ExplainRow[]> {
  const connection = await connect(database)
  try {
    const [rows] = await connection.query<RowDataPacket[]>(`EXPLAIN ${mysql.format(statement.sql, statement.values as Parameters<typeof mysql.format>[1])}`)
    return rows.map((r) => ({ table: String(r.table), type: String(r.type), key: r.key === null ? null : String(r.key), rows: Number(r.rows), extra: r.Extra === null ? null : String(r.Extra) }))
  } finally {
    await connection.end()
  }
}

/** Runs the look-up workload; both stores are dropped before it returns. */
export async function measureLookup(ctx: Context, rows: number): Promise<LookupBenchResult> {
  const result: LookupBenchResult = { rows, keysPerRequest: MAX_LOOKUP_KEYS }
  const bulkRequests = ctx.quick ? 20 : 100
  const singleRequests = ctx.quick ? 100 : 500
  const filled = freshStores()
  const empty = freshStores()
  const services: Array<ReturnType<typeof startService>> = []
  const connections: mysql.Connection[] = []
  try {
    await createStores(ctx.admin, filled)
    await createStores(ctx.admin, empty)
    ctx.progress(`lookup: filling ${filled.database} with ${rows.toLocaleString('en-GB')} mappings`)
    result.fill = await fillIdentifiers(ctx.admin.sql, filled.database, rows, (message) => ctx.progress(`lookup: ${message}`))
    ctx.progress(`lookup: filled in ${result.fill.seconds.toFixed(1)} s (canonical_ids ${result.fill.canonicalIdsSeconds.toFixed(1)}, identifiers ${result.fill.identifiersSeconds.toFixed(1)}, index and foreign key ${result.fill.indexSeconds.toFixed(1)})`)

    const [sizes] = await ctx.admin.sql.query<RowDataPacket[]>(
      'SELECT TABLE_NAME AS name, DATA_LENGTH + INDEX_LENGTH AS bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (\'identifiers\', \'canonical_ids\')',
      [filled.database],
    )
    const [pool] = await ctx.admin.sql.query<RowDataPacket[]>('SELECT @@innodb_buffer_pool_size AS bytes')
    const size = (name: string) => Number(sizes.find((s) => s.name === name)?.bytes ?? Number.NaN)
    result.sizes = { identifiersBytes: size('identifiers'), canonicalIdsBytes: size('canonical_ids'), bufferPoolBytes: Number(pool[0]?.bytes) }

    // What the service runs, explained on the filled table: 1,000 keys of every kind, one canonical ID, and the miss path's check.
    const next = random(13)
    const draw = () => 1 + Math.floor(next() * rows)
    const sample = distinctRows(draw, MAX_LOOKUP_KEYS)
    const statements = sourceIdentifierStatements(sample.map(filledKey))
    if (statements.length !== 1) throw new Error(`1,000 keys made ${statements.length} statements, not 1`)
    result.explain = {
      sourceIdentifiers: await explain(filled.database, statements[0] as Statement),
      canonicalId: await explain(filled.database, canonicalIdStatement(filledCanonicalId(sample[0] as number))),
      canonicalIdRegistered: await explain(filled.database, { sql: 'SELECT 1 FROM canonical_ids WHERE CanonicalId = ?', values: [filledCanonicalId(sample[0] as number)] }),
    }
    for (const [name, explained] of Object.entries(result.explain)) {
      ctx.progress(`lookup: EXPLAIN ${name}: ${explained.map((e) => `${e.table} ${e.type} on ${e.key}, ${e.rows} rows${e.extra ? ` (${e.extra})` : ''}`).join('; ')}`)
    }

    const urls = new Map<Stores, string>()
    const floors = new Map<Stores, mysql.Connection>()
    for (const stores of [filled, empty]) {
      const connection = await connect(stores.database)
      connections.push(connection)
      floors.set(stores, connection)
    }
    for (const stores of [filled, empty]) {
      const service = startService({ env: serviceEnvironment(stores, ctx.logLevel), verbose: ctx.verbose, nodeFlags: ctx.serviceNodeFlags })
      services.push(service)
      ctx.children.add(service)
      urls.set(stores, (await service.ready).url)
    }

    const bulkBodies = Array.from({ length: bulkRequests + 10 }, () => JSON.stringify({ sourceIdentifiers: distinctRows(draw, MAX_LOOKUP_KEYS).map(asked) }))
    const bulkStatements = Array.from({ length: bulkRequests + 10 }, () => sourceIdentifierStatements(distinctRows(draw, MAX_LOOKUP_KEYS).map(filledKey))[0] as Statement)
    const singles = Array.from({ length: singleRequests + 50 }, draw)
    const latencies = new Map<Stores, { bulk: number[]; bulkStatement: number[]; sourceIdentifier: number[]; canonicalId: number[]; found: Set<number>; statementFound: Set<number> }>([
      [filled, { bulk: [], bulkStatement: [], sourceIdentifier: [], canonicalId: [], found: new Set(), statementFound: new Set() }],
      [empty, { bulk: [], bulkStatement: [], sourceIdentifier: [], canonicalId: [], found: new Set(), statementFound: new Set() }],
    ])
    const expected = (stores: Stores, status: number, wanted: number, what: string) => {
      if (status !== wanted) throw new Error(`${what} on ${stores === filled ? 'the filled' : 'the empty'} table answered ${status}, not ${wanted}`)
    }

    ctx.progress(`lookup: ${bulkRequests} POST /source-identifiers/lookup of ${MAX_LOOKUP_KEYS} keys on each table, alternating (10 more first, unmeasured)`)
    result.loadAverage = { start: Math.round((os.loadavg()[0] ?? 0) * 100) / 100, end: Number.NaN }
    for (const [i, body] of bulkBodies.entries()) {
      for (const stores of [filled, empty]) {
        const answer = await send(`${urls.get(stores)}/source-identifiers/lookup`, 'POST', body)
        expected(stores, answer.status, 200, 'POST /source-identifiers/lookup')
        const parsed = JSON.parse(answer.text) as { found: unknown[]; missing: unknown[] }
        const record = latencies.get(stores)!
        record.found.add(parsed.found.length)
        if (i >= 10) record.bulk.push(answer.ms)
      }
      for (const stores of [filled, empty]) {
        const connection = floors.get(stores)!
        const statement = bulkStatements[i] as Statement
        const started = performance.now()
        const [found] = await connection.query({ sql: statement.sql, rowsAsArray: true }, statement.values as mysql.QueryValues)
        const record = latencies.get(stores)!
        record.statementFound.add((found as unknown[]).length)
        if (i >= 10) record.bulkStatement.push(performance.now() - started)
      }
    }
    ctx.progress(`lookup: ${singleRequests} GET /source-identifiers and GET /canonical-ids/{canonicalId} on each table, alternating`)
    for (const [i, n] of singles.entries()) {
      const key = asked(n)
      const query = new URLSearchParams(key).toString()
      for (const stores of [filled, empty]) {
        const record = latencies.get(stores)!
        const bySource = await send(`${urls.get(stores)}/source-identifiers?${query}`, 'GET')
        expected(stores, bySource.status, stores === filled ? 200 : 404, 'GET /source-identifiers')
        const byId = await send(`${urls.get(stores)}/canonical-ids/${filledCanonicalId(n)}`, 'GET')
        expected(stores, byId.status, stores === filled ? 200 : 404, 'GET /canonical-ids/{canonicalId}')
        if (stores === filled && (JSON.parse(bySource.text) as { canonicalId: string }).canonicalId !== filledCanonicalId(n)) {
          throw new Error(`GET /source-identifiers answered another canonical ID for row ${n}`)
        }
        if (i >= 50) {
          record.sourceIdentifier.push(bySource.ms)
          record.canonicalId.push(byId.ms)
        }
      }
    }
    result.loadAverage.end = Math.round((os.loadavg()[0] ?? 0) * 100) / 100

    for (const stores of [filled, empty]) {
      const record = latencies.get(stores)!
      const found = [...record.found]
      if (found.length !== 1) throw new Error(`requests of 1,000 keys found different numbers of them: ${found.join(', ')}`)
      if (record.statementFound.size !== 1 || !record.statementFound.has(found[0] as number)) throw new Error(`the statements alone found ${[...record.statementFound].join(', ')} of 1,000, the service ${found[0]}`)
      const table: LookupTableResult = {
        rows: stores === filled ? rows : 0,
        bulk: summarise(record.bulk),
        bulkStatement: summarise(record.bulkStatement),
        foundPerRequest: found[0] as number,
        sourceIdentifier: summarise(record.sourceIdentifier),
        canonicalId: summarise(record.canonicalId),
      }
      if (stores === filled) result.filled = table
      else result.empty = table
    }
    const expectedFound = result.filled?.foundPerRequest === MAX_LOOKUP_KEYS && result.empty?.foundPerRequest === 0
    if (!expectedFound) throw new Error(`found ${result.filled?.foundPerRequest} of 1,000 in the filled table and ${result.empty?.foundPerRequest} in the empty one`)
    ctx.progress(
      `lookup: 1,000 keys p50 ${result.filled?.bulk.p50.toFixed(1)} ms at ${rows.toLocaleString('en-GB')} rows (the statement alone ${result.filled?.bulkStatement.p50.toFixed(1)}), ` +
        `${result.empty?.bulk.p50.toFixed(1)} ms empty (${result.empty?.bulkStatement.p50.toFixed(1)}) ` +
        `(load average ${result.loadAverage.start} → ${result.loadAverage.end})`,
    )
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error)
    ctx.progress(`lookup: error: ${result.error}`)
  } finally {
    for (const service of services) {
      await service.close().catch(() => service.kill())
      ctx.children.delete(service)
    }
    for (const connection of connections) await connection.end().catch(() => {})
    for (const stores of [filled, empty]) await dropStores(ctx.admin, stores).catch(() => {})
  }
  return result
}
