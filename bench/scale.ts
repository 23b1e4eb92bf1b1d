/**
 * `--workload scale` (only when named): POST /mint against an identifiers table of `--rows`
 * mappings (default 10,000,000; filled by bench/fill-identifiers.ts with INSERT … SELECT), beside
 * the same service on an empty table, in the same run. Requests of 100 works x 6 identifiers
 * alternate between the two tables: all-new works (keys the table lacks, each sorting next to one
 * it has, so a look-up lands on the same pages as a hit would), then all-existing works (keys the
 * table holds, drawn at random over the whole table; on the empty table they are the only rows).
 * Each all-existing request is then sent again at once, when the pages its look-up needs are in the
 * buffer pool. Each table is served by the production app in a child process
 * (bench/service-child.ts), and SQL statements are counted in it; InnoDB's pages read from disk
 * (Innodb_buffer_pool_reads) are counted around each request. The EXPLAIN of every look-up statement shape the identifier
 * store makes (lookupOn, the statements lookup() sends) is read on the filled table.
 */
import http from 'node:http'
import os from 'node:os'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import { localEnv } from '../fixtures/local-env.js'
import type { IdentifierKey } from '../src/services/identifier-store/keys.js'
import { lookupOn } from '../src/services/identifier-store/store.js'
import { startService } from './children.js'
import { createStores, dropStores, freshStores, serviceEnvironment, type Stores } from './environment.js'
import { fillIdentifiers, filledCanonicalId, filledKey, type FillResult } from './fill-identifiers.js'
import { median, summarise, type LatencySummary } from './load.js'
import type { Context } from './measure.js'
import type { ServiceCounters } from './service-child.js'

export const DEFAULT_SCALE_ROWS = 10_000_000
export const QUICK_SCALE_ROWS = 200_000
const WORKS_PER_REQUEST = 100
const WARM_UP_REQUESTS = 5
/** p50 on the filled table at most this many times the empty table's (issue 12). */
export const SCALE_P50_RATIO_TARGET = 1.5

export interface ScaleExplainRow {
  table: string
  type: string
  key: string | null
  rows: number
  extra: string | null
}

export interface ScaleShape {
  /** What the keys were, in words. */
  shape: string
  keys: number
  /** The statements the identifier store made of them, each explained. */
  statements: Array<{ groups: number; values: number; locking: boolean; explain: ScaleExplainRow[] }>
  /** Every statement's every row is a range scan on the primary key (or, for one key, a point look-up on it: const). */
  rangeOnPrimary: boolean
}

export interface ScaleTableResult {
  rows: number
  allNew: LatencySummary
  allExisting: LatencySummary
  /** SQL statements per request, counted in the service process (each one round trip: text protocol). */
  allNewStatements: number
  allExistingStatements: number
  /**
   * Median per request of InnoDB's Innodb_buffer_pool_reads (pages it had to read because the
   * buffer pool did not hold them). The counter is the server's, so other clients' reads are in it too.
   */
  allNewPoolReads: number
  allExistingPoolReads: number
  /** The all-existing request sent again at once: the pages its look-up needs are then in the buffer pool. */
  allExistingAgain: LatencySummary
  allExistingAgainPoolReads: number
}

export interface ScaleBenchResult {
  rows: number
  server?: 'mariadb' | 'mysql'
  requests: number
  identifiersPerRequest: number
  fill?: FillResult
  sizes?: { identifiersBytes: number; canonicalIdsBytes: number; bufferPoolBytes: number }
  filled?: ScaleTableResult
  empty?: ScaleTableResult
  /** p50 on the filled table ÷ p50 on the empty one. */
  ratios?: { allNew: number; allExisting: number; allExistingAgain: number }
  explain?: ScaleShape[]
  loadAverage?: { start: number; end: number }
  error?: string
}

// The fill's kinds (bench/fill-identifiers.ts): row n is of kind (n - 1) mod 8. A work here is a
// Work/sierra-system-number root (kind 7) with one node of each of kinds 0 to 4 nested in it.
const ROOT_KIND = 7
const NESTED_KINDS = [0, 1, 2, 3, 4]
const KIND_COUNT = 8

const agent = new http.Agent({ keepAlive: true, maxSockets: 2 })

function postMint(url: string, sourceIdentifiers: string[]): Promise<number> {
  const body = JSON.stringify({ sourceIdentifiers })
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}/mint`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => {
        const elapsed = performance.now() - started
        if (response.statusCode !== 200) return reject(new Error(`POST /mint answered ${response.statusCode}: ${text.slice(0, 300)}`))
        const answer = JSON.parse(text) as { successes: string[]; failures: Array<{ error: string }> }
        if (answer.successes.length !== sourceIdentifiers.length) return reject(new Error(`POST /mint: ${answer.failures.length} failures, e.g. ${answer.failures[0]?.error}`))
        resolve(elapsed)
      })
      response.on('error', reject)
    })
    request.on('error', reject)
    request.end(body)
  })
}

/** A source work whose identifiers are exactly these keys, the first its root. */
function workOf(id: string, keys: IdentifierKey[]) {
  const node = (key: IdentifierKey) => ({ identifierType: { id: key.sourceSystem }, ontologyType: key.ontologyType, value: key.sourceId })
  const [root, ...nested] = keys as [IdentifierKey, ...IdentifierKey[]]
  return {
    id,
    work: {
      state: { sourceIdentifier: node(root), sourceModifiedTime: '2026-05-02T10:00:00Z', mergeCandidates: [] },
      data: { title: id, items: nested.map((key) => ({ id: { type: 'Identifiable', sourceIdentifier: node(key), otherIdentifiers: [] } })) },
      version: 1,
      type: 'Visible',
    },
  }
}

/** Row numbers of the filled table: of kind `kind`, drawn at random over the whole table. */
/** How many of the filled table's rows are of this kind. */
const rowsOfKind = (rows: number, kind: number) => Math.floor((rows - 1 - kind) / KIND_COUNT) + 1

function randomRow(rows: number, kind: number): number {
  return Math.floor(Math.random() * rowsOfKind(rows, kind)) * KIND_COUNT + kind + 1
}

/** The keys of one work: existing rows of the filled table, or (fresh) keys that sort right after them. */
function workKeys(rows: number, fresh: string | undefined): { keys: IdentifierKey[]; rowNumbers: number[] } {
  const rowNumbers = [randomRow(rows, ROOT_KIND), ...NESTED_KINDS.map((kind) => randomRow(rows, kind))]
  const keys = rowNumbers.map((n) => {
    const key = filledKey(n)
    return fresh === undefined ? key : { ...key, sourceId: `${key.sourceId}-${fresh}` }
  })
  return { keys, rowNumbers }
}

async function explain(sql: mysql.Connection, shape: string, keys: IdentifierKey[], locking = false): Promise<ScaleShape> {
  // The identifier store's own statements for these keys: lookupOn builds them as lookup() does.
  const made: Array<{ sql: string; values: unknown[] }> = []
  const recorder = {
    query: async (options: { sql: string; values: unknown[] }) => {
      made.push(options)
      return [[]]
    },
  }
  await lookupOn(recorder as never, keys, { lock: locking })
  const statements: ScaleShape['statements'] = []
  for (const statement of made) {
    const [rows] = await sql.query<RowDataPacket[]>({ sql: `EXPLAIN ${statement.sql}`, values: statement.values })
    statements.push({
      groups: (statement.sql.match(/OntologyType = \?/g) ?? []).length,
      values: statement.values.filter(Array.isArray).reduce((n: number, v) => n + (v as unknown[]).length, 0),
      locking: / FOR UPDATE$/.test(statement.sql),
      explain: rows.map((r) => ({ table: String(r.table), type: String(r.type), key: r.key === null ? null : String(r.key), rows: Number(r.rows), extra: r.Extra === null ? null : String(r.Extra) })),
    })
  }
  // A single key is a point look-up (const), which is better still.
  const rangeOnPrimary = statements.every((s) => s.explain.every((r) => (r.type === 'range' || r.type === 'const') && r.key === 'PRIMARY'))
  return { shape, keys: keys.length, statements, rangeOnPrimary }
}

/** Runs the scale workload; every store it made is dropped before it returns. */
export async function measureScale(ctx: Context, rows: number): Promise<ScaleBenchResult> {
  const requests = ctx.quick ? 10 : 30
  const result: ScaleBenchResult = { rows, requests, identifiersPerRequest: WORKS_PER_REQUEST * (1 + NESTED_KINDS.length) }
  const filled: Stores = freshStores()
  const empty: Stores = { ...freshStores(), sourceIndex: filled.sourceIndex }
  const children: Array<ReturnType<typeof startService>> = []
  try {
    await createStores(ctx.admin, filled)
    await createStores(ctx.admin, empty)
    ctx.progress(`scale: filling ${filled.database}.identifiers with ${rows.toLocaleString('en-GB')} mappings`)
    result.fill = await fillIdentifiers(ctx.admin.sql, filled.database, rows, (message) => ctx.progress(`scale: ${message}`))
    result.server = result.fill.server
    ctx.progress(`scale: filled in ${result.fill.seconds.toFixed(1)} s`)
    const [sizes] = await ctx.admin.sql.query<RowDataPacket[]>(
      'SELECT TABLE_NAME AS t, DATA_LENGTH + INDEX_LENGTH AS bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (\'identifiers\', \'canonical_ids\')',
      [filled.database],
    )
    const [pool] = await ctx.admin.sql.query<RowDataPacket[]>('SELECT @@innodb_buffer_pool_size AS b')
    const size = (table: string) => Number(sizes.find((s) => s.t === table)?.bytes ?? 0)
    result.sizes = { identifiersBytes: size('identifiers'), canonicalIdsBytes: size('canonical_ids'), bufferPoolBytes: Number(pool[0]?.b) }

    // The works: per request, 100 all-new and 100 all-existing; the warm-up's first.
    const total = WARM_UP_REQUESTS + requests
    const batches = { allNew: [] as string[][], allExisting: [] as string[][] }
    const sourceWorks: Array<ReturnType<typeof workOf>> = []
    const existingRows: number[] = []
    for (let r = 0; r < total; r++) {
      const fresh: string[] = []
      const existing: string[] = []
      for (let w = 0; w < WORKS_PER_REQUEST; w++) {
        const novel = workOf(`scale-new-${r}-${w}`, workKeys(rows, `new${r}w${w}`).keys)
        const known = workKeys(rows, undefined)
        existingRows.push(...known.rowNumbers)
        const old = workOf(`scale-existing-${r}-${w}`, known.keys)
        sourceWorks.push(novel, old)
        fresh.push(novel.id)
        existing.push(old.id)
      }
      batches.allNew.push(fresh)
      batches.allExisting.push(existing)
    }
    for (let i = 0; i < sourceWorks.length; i += 1000) {
      const response = await ctx.admin.es.bulk({ refresh: i + 1000 >= sourceWorks.length, operations: sourceWorks.slice(i, i + 1000).flatMap(({ id, work }) => [{ index: { _index: filled.sourceIndex, _id: id } }, work]) })
      if (response.errors) throw new Error(`seeding the scale works failed: ${JSON.stringify(response.items.find((item) => item.index?.error))}`)
    }
    // On the empty table the all-existing works' keys are its only rows, with the filled table's canonical IDs.
    const distinct = [...new Set(existingRows)]
    for (let i = 0; i < distinct.length; i += 1000) {
      const chunk = distinct.slice(i, i + 1000)
      await ctx.admin.sql.query(`INSERT INTO \`${empty.database}\`.canonical_ids (CanonicalId, Status) VALUES ?`, [chunk.map((n) => [filledCanonicalId(n), 'assigned'])])
      await ctx.admin.sql.query(`INSERT INTO \`${empty.database}\`.identifiers (OntologyType, SourceSystem, SourceId, CanonicalId) VALUES ?`, [
        chunk.map((n) => {
          const key = filledKey(n)
          return [key.ontologyType, key.sourceSystem, key.sourceId, filledCanonicalId(n)]
        }),
      ])
    }

    const services = { filled: startService({ env: serviceEnvironment(filled, ctx.logLevel), verbose: ctx.verbose, nodeFlags: ctx.serviceNodeFlags }), empty: startService({ env: serviceEnvironment(empty, ctx.logLevel), verbose: ctx.verbose, nodeFlags: ctx.serviceNodeFlags }) }
    for (const child of Object.values(services)) {
      children.push(child)
      ctx.children.add(child)
    }
    const urls = { filled: (await services.filled.ready).url, empty: (await services.empty.ready).url }
    const sample = () => ({
      allNew: [] as number[],
      allExisting: [] as number[],
      allExistingAgain: [] as number[],
      allNewStatements: [] as number[],
      allExistingStatements: [] as number[],
      allExistingAgainStatements: [] as number[],
      allNewPoolReads: [] as number[],
      allExistingPoolReads: [] as number[],
      allExistingAgainPoolReads: [] as number[],
    })
    const samples = { filled: sample(), empty: sample() }
    const poolReads = async () => {
      const [status] = await ctx.admin.sql.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'")
      return Number(status[0]?.Value)
    }
    const statementsOf = async (table: 'filled' | 'empty') => (await services[table].call<ServiceCounters>('counters')).sqlStatements
    ctx.progress(`scale: ${WARM_UP_REQUESTS} warm-up requests of each kind per table, then ${requests}; requests alternate between the tables`)
    result.loadAverage = { start: Math.round((os.loadavg()[0] ?? 0) * 100) / 100, end: 0 }
    for (let r = 0; r < total; r++) {
      for (const kind of ['allNew', 'allExisting', 'allExistingAgain'] as const) {
        const order = r % 2 ? (['empty', 'filled'] as const) : (['filled', 'empty'] as const)
        for (const table of order) {
          const before = await statementsOf(table)
          const readsBefore = await poolReads()
          const latency = await postMint(urls[table], batches[kind === 'allExistingAgain' ? 'allExisting' : kind][r] as string[])
          const reads = (await poolReads()) - readsBefore
          const statements = (await statementsOf(table)) - before
          if (r < WARM_UP_REQUESTS) continue
          samples[table][kind].push(latency)
          samples[table][`${kind}Statements`].push(statements)
          samples[table][`${kind}PoolReads`].push(reads)
        }
      }
    }
    result.loadAverage.end = Math.round((os.loadavg()[0] ?? 0) * 100) / 100
    const table = (name: 'filled' | 'empty'): ScaleTableResult => {
      const s = samples[name]
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length
      return { rows: name === 'filled' ? rows : distinct.length, allNew: summarise(s.allNew), allExisting: summarise(s.allExisting), allNewStatements: mean(s.allNewStatements), allExistingStatements: mean(s.allExistingStatements), allNewPoolReads: median(s.allNewPoolReads), allExistingPoolReads: median(s.allExistingPoolReads), allExistingAgain: summarise(s.allExistingAgain), allExistingAgainPoolReads: median(s.allExistingAgainPoolReads) }
    }
    result.filled = table('filled')
    result.empty = table('empty')
    result.ratios = {
      allNew: result.filled.allNew.p50 / result.empty.allNew.p50,
      allExisting: result.filled.allExisting.p50 / result.empty.allExisting.p50,
      allExistingAgain: result.filled.allExistingAgain.p50 / result.empty.allExistingAgain.p50,
    }
    ctx.progress(
      `scale: all-new p50 ${result.filled.allNew.p50.toFixed(1)} ms at ${rows.toLocaleString('en-GB')} rows, ${result.empty.allNew.p50.toFixed(1)} ms empty (x${result.ratios.allNew.toFixed(2)}); ` +
        `all-existing ${result.filled.allExisting.p50.toFixed(1)} / ${result.empty.allExisting.p50.toFixed(1)} ms (x${result.ratios.allExisting.toFixed(2)})`,
    )

    const sql = await mysql.createConnection({ host: localEnv.cluster_url, port: Number(localEnv.db_port), user: localEnv.db_username, password: localEnv.db_password, database: filled.database, charset: 'utf8mb4' })
    try {
      const oneRequest = (batches.allExisting[WARM_UP_REQUESTS] as string[]).length
      const requestKeys = Array.from({ length: oneRequest }, () => workKeys(rows, undefined).keys).flat()
      // Distinct rows: the statements carry each key once, so drawn repeats would shrink them.
      const ofKind = (kind: number, count: number) => {
        const drawn = new Set<number>()
        while (drawn.size < Math.min(count, rowsOfKind(rows, kind))) drawn.add(randomRow(rows, kind))
        return [...drawn].map(filledKey)
      }
      result.explain = [
        await explain(sql, 'one key', ofKind(ROOT_KIND, 1)),
        await explain(sql, `a mint of ${oneRequest} works x 6 (6 kinds: one statement, an OR of 6 groups)`, requestKeys),
        await explain(sql, '1,000 keys of one kind (the most one statement carries)', ofKind(3, 1000)),
        await explain(sql, '2,500 keys of 3 kinds (three statements, a group split across two of them)', [...ofKind(3, 1200), ...ofKind(4, 800), ...ofKind(0, 500)]),
        await explain(sql, 'the same mint\'s keys read FOR UPDATE (assign(), when a concurrent request minted some of them first)', requestKeys, true),
      ]
    } finally {
      await sql.end()
    }
    for (const shape of result.explain) ctx.progress(`scale: EXPLAIN ${shape.shape}: ${shape.rangeOnPrimary ? 'on PRIMARY' : 'NOT a range on PRIMARY'} (${shape.statements.map((s) => `${s.explain.map((r) => `${r.type}/${r.key}`).join('+')}`).join(', ')})`)
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error)
    ctx.progress(`scale: error: ${result.error}`)
  } finally {
    for (const child of children) child.kill()
    await dropStores(ctx.admin, filled).catch(() => {})
    await dropStores(ctx.admin, empty).catch(() => {})
  }
  return result
}

/** The targets for report.ts: p50 on the filled table within SCALE_P50_RATIO_TARGET of the empty one, and every look-up shape a range on the primary key. */
export function scaleTargets(result: ScaleBenchResult): Array<{ target: string; measured: string; pass: boolean | undefined }> {
  const rows = result.rows.toLocaleString('en-GB')
  if (result.error || !result.ratios || !result.filled || !result.empty) {
    return [{ target: `scale: mint p50 at ${rows} rows <= ${SCALE_P50_RATIO_TARGET} x the empty table`, measured: `error: ${result.error?.split('\n')[0] ?? ''}`, pass: false }]
  }
  const { filled, empty, ratios } = result
  return [
    { target: `scale: all-new mint p50 at ${rows} rows <= ${SCALE_P50_RATIO_TARGET} x the empty table`, measured: `${ratios.allNew.toFixed(2)} (${filled.allNew.p50.toFixed(1)} vs ${empty.allNew.p50.toFixed(1)} ms)`, pass: ratios.allNew <= SCALE_P50_RATIO_TARGET },
    { target: `scale: all-existing mint p50 at ${rows} rows <= ${SCALE_P50_RATIO_TARGET} x the empty table`, measured: `${ratios.allExisting.toFixed(2)} (${filled.allExisting.p50.toFixed(1)} vs ${empty.allExisting.p50.toFixed(1)} ms)`, pass: ratios.allExisting <= SCALE_P50_RATIO_TARGET },
    {
      target: `scale: every look-up statement shape is a range on the primary key at ${rows} rows (EXPLAIN)`,
      measured: result.explain ? `${result.explain.filter((s) => s.rangeOnPrimary).length} of ${result.explain.length} shapes` : '–',
      pass: result.explain ? result.explain.every((s) => s.rangeOnPrimary) : undefined,
    },
  ]
}

/** The Markdown section for report.ts. */
export function renderScale(result: ScaleBenchResult): string[] {
  const MiB = 1024 * 1024
  const rows = result.rows.toLocaleString('en-GB')
  const out = [`### Scale (POST /mint of 100 works x 6 identifiers against ${rows} mappings, and against an empty table; requests alternate between the two)`, '']
  if (result.error) out.push(`error: ${result.error}`, '')
  const f = result.fill
  if (f) {
    out.push(
      `Filled with INSERT … SELECT (${f.server === 'mariadb' ? 'MariaDB\'s seq_1_to_N' : 'a recursive CTE'}) in ${f.seconds.toFixed(1)} s (canonical_ids ${f.canonicalIdsSeconds.toFixed(1)} s, identifiers ${f.identifiersSeconds.toFixed(1)} s, index and foreign key ${f.indexSeconds.toFixed(1)} s).` +
        (result.sizes ? ` identifiers ${Math.round(result.sizes.identifiersBytes / MiB)} MiB, canonical_ids ${Math.round(result.sizes.canonicalIdsBytes / MiB)} MiB (data and indexes); buffer pool ${Math.round(result.sizes.bufferPoolBytes / MiB)} MiB.` : ''),
      '',
    )
  }
  if (result.loadAverage) out.push(`${result.requests} measured requests of each kind per table, after ${WARM_UP_REQUESTS} warm-up; load average ${result.loadAverage.start} when they started, ${result.loadAverage.end} when they ended.`, '')
  const cell = (l: LatencySummary | undefined) => (l ? `${l.p50.toFixed(1)} / ${l.p95.toFixed(1)}` : '–')
  if (result.filled && result.empty) {
    out.push(
      `| Request | p50 / p95 ms, ${rows} rows | p50 / p95 ms, empty table | p50 ratio | SQL round trips per request (${rows} / empty) | InnoDB pages read from disk per request, median (${rows} / empty) |`,
      '| --- | --- | --- | --- | --- | --- |',
      `| all-new (every identifier minted) | ${cell(result.filled.allNew)} | ${cell(result.empty.allNew)} | **${result.ratios?.allNew.toFixed(2)}** | ${result.filled.allNewStatements.toFixed(2)} / ${result.empty.allNewStatements.toFixed(2)} | ${result.filled.allNewPoolReads} / ${result.empty.allNewPoolReads} |`,
      `| all-existing (every identifier looked up) | ${cell(result.filled.allExisting)} | ${cell(result.empty.allExisting)} | **${result.ratios?.allExisting.toFixed(2)}** | ${result.filled.allExistingStatements.toFixed(2)} / ${result.empty.allExistingStatements.toFixed(2)} | ${result.filled.allExistingPoolReads} / ${result.empty.allExistingPoolReads} |`,
      `| the same all-existing request again at once (its pages now in the buffer pool) | ${cell(result.filled.allExistingAgain)} | ${cell(result.empty.allExistingAgain)} | ${result.ratios?.allExistingAgain.toFixed(2)} | – | ${result.filled.allExistingAgainPoolReads} / ${result.empty.allExistingAgainPoolReads} |`,
      '',
    )
  }
  if (result.explain) {
    out.push(`EXPLAIN of each look-up statement shape the identifier store makes, on the ${rows}-row table:`, '')
    for (const shape of result.explain) {
      const statements = shape.statements.map((s) => `${s.values} values in ${s.groups} group${s.groups === 1 ? '' : 's'}${s.locking ? ', FOR UPDATE' : ''}: ${s.explain.map((r) => `type ${r.type}, key ${r.key}, rows ${r.rows}${r.extra ? `, ${r.extra}` : ''}`).join('; ')}`)
      out.push(`- ${shape.shape} (${shape.keys} keys, ${shape.statements.length} statement${shape.statements.length === 1 ? '' : 's'}): ${shape.rangeOnPrimary ? 'on PRIMARY' : '**not a range on PRIMARY**'}`)
      for (const s of statements) out.push(`  - ${s}`)
    }
  }
  return out
}
