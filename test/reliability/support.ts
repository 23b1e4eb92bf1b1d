/**
 * Helpers shared by the reliability suites: apps whose dependencies may be down at start-up,
 * direct (admin) access to a test's database, and integrity checks over the stores.
 */
import type { Client } from '@elastic/elasticsearch'
import mysql from 'mysql2/promise'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import net from 'node:net'
import { buildApp, type App } from '../../src/app.js'
import type { Config } from '../../src/config.js'
import { keyOf } from '../../src/services/identifier-store/keys.js'
import { seedSourceWorks } from '../../fixtures/indices.js'
import { localEnv } from '../../fixtures/local-env.js'
import { isolatedConfig, prepareStores, type Teardown } from '../helpers.js'
import { readWork, type IdentifierKey, type IdentifierProblem } from '../oracle.js'

export interface Row {
  OntologyType: string
  SourceSystem: string
  SourceId: string
  CanonicalId: string
}

/** SQL against the test's own database on the real server, never through a proxy. */
export async function directDatabase(t: Teardown, database: string) {
  const pool = mysql.createPool({
    host: localEnv.cluster_url,
    port: Number(localEnv.db_port),
    user: localEnv.db_username,
    password: '',
    database,
    connectionLimit: 2,
    charset: 'utf8mb4',
  })
  t.teardown(() => pool.end())
  const sql = async <T = Record<string, unknown>>(statement: string, params: unknown[] = []) => {
    const [rows] = await pool.query(statement, params)
    return rows as T[]
  }
  return {
    pool,
    sql,
    /** Every mapping, the binary columns decoded as UTF-8. */
    async mappings(): Promise<Row[]> {
      const rows = await sql<{ OntologyType: Buffer; SourceSystem: Buffer; SourceId: Buffer; CanonicalId: string }>(
        'SELECT OntologyType, SourceSystem, SourceId, CanonicalId FROM identifiers',
      )
      return rows.map((r) => ({
        OntologyType: r.OntologyType.toString('utf8'),
        SourceSystem: r.SourceSystem.toString('utf8'),
        SourceId: r.SourceId.toString('utf8'),
        CanonicalId: r.CanonicalId,
      }))
    },
    /** Canonical IDs registered but not mapped by any identifier (a mint that half-happened). */
    async orphans(): Promise<string[]> {
      const rows = await sql<{ CanonicalId: string }>(
        'SELECT c.CanonicalId FROM canonical_ids c LEFT JOIN identifiers i ON i.CanonicalId = c.CanonicalId WHERE i.CanonicalId IS NULL',
      )
      return rows.map((r) => r.CanonicalId)
    },
    /** Mapped IDs whose canonical_ids row is missing or not 'assigned'. */
    async unassigned(): Promise<string[]> {
      const rows = await sql<{ CanonicalId: string }>(
        "SELECT i.CanonicalId FROM identifiers i LEFT JOIN canonical_ids c ON c.CanonicalId = i.CanonicalId WHERE c.CanonicalId IS NULL OR c.Status <> 'assigned'",
      )
      return rows.map((r) => r.CanonicalId)
    },
  }
}

export const rowKey = (row: Row) => keyOf({ ontologyType: row.OntologyType, sourceSystem: row.SourceSystem, sourceId: row.SourceId })

const describeProblem = (p: IdentifierProblem) => `${p.at}${p.field ? ` ${p.field}` : ''}: ${p.why}`

/**
 * The keys (keyOf form, the identifiers table's) of every identifiable node of a work, read by the
 * oracle's own walk (test/oracle.ts), not by the minter's.
 */
export function workKeys(work: unknown): { root: string; keys: string[]; predecessors: string[] } {
  const reading = readWork(work)
  if (reading.problems.length > 0) throw new Error(`test work has a malformed identifier: ${describeProblem(reading.problems[0] as IdentifierProblem)}`)
  if (!reading.root?.key) throw new Error('test work has no root identifier')
  return {
    root: keyOf(reading.root.key),
    keys: [...new Set(reading.nodes.map((n) => keyOf(n.key as IdentifierKey)))],
    predecessors: reading.nodes.flatMap((n) => (n.predecessor ? [keyOf(n.predecessor)] : [])),
  }
}

/**
 * Checks an indexed work against the database, by the oracle's walk: every node with a
 * sourceIdentifier carries the canonical ID its key maps to. Returns the problems found (empty when consistent).
 */
export function embeddedIdProblems(indexed: unknown, mapping: Map<string, string>): string[] {
  const reading = readWork(indexed)
  if (!reading.isObject) return ['indexed work is not a JSON object']
  const problems = reading.problems.map((p) => `malformed identifier ${describeProblem(p)}`)
  if (!reading.root) problems.push('indexed work has no root node')
  for (const node of reading.nodes) {
    if (!node.key) continue
    const expected = mapping.get(keyOf(node.key))
    if (expected === undefined) problems.push(`${node.path}: no mapping in the database`)
    else if (node.node.canonicalId !== expected) problems.push(`${node.path}: canonicalId ${String(node.node.canonicalId)} but database says ${expected}`)
  }
  return problems
}

/** A JSON text with object keys sorted, for comparing documents that may carry `__proto__` keys. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/**
 * An app on stores of the test's own whose dependencies may be unreachable: unlike setup(), it
 * neither waits for nor requires the database.
 */
export async function isolatedApp(t: Teardown, name: string, overrides: Record<string, string> = {}) {
  const config: Config = isolatedConfig(name, overrides)
  const es = await prepareStores(t, config)
  const app = await buildApp(config)
  t.teardown(() => app.close())
  await app.ready()
  return { app, config, es, seed: (works: Array<{ id: string; work: unknown }>) => seedSourceWorks(es, config.es_source_index, works) }
}

export async function health(app: App) {
  const response = await app.inject({ method: 'GET', url: '/health' })
  return { status: response.statusCode, body: response.json() }
}

export async function mintInject(app: App, payload: unknown) {
  const response = await app.inject({ method: 'POST', url: '/mint', payload: payload as object })
  return { status: response.statusCode, body: response.json() }
}

/** The document indexed under an id in the target index, after a refresh. */
export async function indexedDocument(es: Client, index: string, id: string): Promise<Record<string, unknown> | undefined> {
  await es.indices.refresh({ index })
  const response = await es.get<Record<string, unknown>>({ index, id }, { ignore: [404] })
  return response.found ? response._source : undefined
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Polls `check` every `everyMs` until it returns true or `withinMs` passes. */
export async function eventually(check: () => Promise<boolean>, withinMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + withinMs
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (await check().catch(() => false)) return true
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  return false
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves with the promise's value, or rejects if it takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * src/server.ts as a child process (a plain node with tsx, without tap's hooks in its environment),
 * with `env` over the test process's own: its output (the last 200,000 characters) kept for the
 * test to read, its exit as a promise, and a SIGKILL at teardown if it is still running.
 */
export function startServerProcess(t: Teardown, env: Record<string, string>) {
  const plain: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (!/^(TAP|_TAPJS|NODE_OPTIONS)/.test(name)) plain[name] = value
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
    env: { ...plain, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-200_000)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, exited, output: () => output }
}
