import mysql, { type Pool, type PoolOptions, type RowDataPacket } from 'mysql2/promise'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Deadline } from '../deadline.js'
import { within, withConnection } from './connection.js'

export interface DatabaseOptions {
  host: string
  replicaHost?: string
  port: number
  user: string
  password: string
  database: string
  connectionLimit: number
  /** Create the database if missing and apply the migrations before the first statement. */
  applyMigrations: boolean
  migrationsFolder?: string
  /** How long start-up waits for another instance's migration (the named lock), in seconds; 60 by default. */
  migrationLockSeconds?: number
  /** Told when a new connection had to be destroyed because its session could not be set up. */
  onConnectionSetupError?: (error: Error) => void
}

// MIGRATIONS_FOLDER lets a bundled artifact (the Lambda zip) say where it ships the SQL files.
export const defaultMigrationsFolder =
  process.env.MIGRATIONS_FOLDER ?? fileURLToPath(new URL('../../../migrations', import.meta.url))

interface CallbackConnection {
  query(sql: string, callback: (error: Error | null) => void): void
  destroy(): void
}

export type Database = ReturnType<typeof openDatabase>

/** Opens the connection pools (lazily: nothing connects until the first statement). */
export function openDatabase(options: DatabaseOptions) {
  const migrationsFolder = options.migrationsFolder ?? defaultMigrationsFolder
  // A deployment without its SQL files is a configuration error, not an outage to retry.
  if (options.applyMigrations && !existsSync(join(migrationsFolder, 'meta', '_journal.json'))) {
    throw new Error(`APPLY_MIGRATIONS is set but ${migrationsFolder} holds no migrations (set MIGRATIONS_FOLDER)`)
  }
  const base: PoolOptions = {
    port: options.port,
    user: options.user,
    password: options.password,
    charset: 'utf8mb4',
    connectTimeout: 5000,
    enableKeepAlive: true,
    // Without FOUND_ROWS, a duplicate key left unchanged by ON DUPLICATE KEY UPDATE counts 0 rows,
    // which is how a mint learns that a concurrent request got there first.
    flags: ['-FOUND_ROWS'],
  }
  const createPool = (host: string): Pool => {
    const pool = mysql.createPool({
      ...base,
      host,
      database: options.database,
      connectionLimit: options.connectionLimit,
      // Requests wait for a connection no longer than their deadline; past this many waiting, at once a 503.
      queueLimit: Math.max(50, options.connectionLimit * 10),
      maxIdle: options.connectionLimit,
      idleTimeout: 60_000,
    })
    // READ COMMITTED takes fewer gap locks than REPEATABLE READ, so overlapping inserts deadlock
    // less; set per connection so no request pays a round trip for it. The event hands over the
    // callback-style connection before its first statement, which queues behind this one. A
    // connection whose isolation level could not be set is destroyed, so that no statement runs
    // at another level: the statement queued behind fails, and the request with it (a 503).
    pool.on('connection', (connection) => {
      const callbackConnection = connection as unknown as CallbackConnection
      callbackConnection.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', (error) => {
        if (!error) return
        callbackConnection.destroy()
        options.onConnectionSetupError?.(error)
      })
    })
    return pool
  }

  // The identifier store queries these pools directly; drizzle is only the migrator.
  const primaryPool = createPool(options.host)
  const replicaPool = options.replicaHost ? createPool(options.replicaHost) : undefined

  /**
   * Whether the newest migration is applied already, by drizzle's own rule (the newest created_at
   * of its table is not older than the journal's newest entry), in one statement on a pool
   * connection that the first query then reuses. Every start-up but the first after a deploy stops
   * here, instead of an admin connection, CREATE DATABASE, GET_LOCK and drizzle's round trips: a
   * cold start's largest cost after the code itself (bench/README.md).
   */
  async function upToDate(): Promise<boolean> {
    const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ when: number }> }
    const newest = Math.max(...journal.entries.map((entry) => entry.when))
    try {
      const [rows] = await primaryPool.query<RowDataPacket[]>('SELECT `created_at` FROM `__drizzle_migrations` ORDER BY `created_at` DESC LIMIT 1')
      const applied = rows[0]?.created_at as unknown
      return applied !== undefined && applied !== null && Number(applied) >= newest
    } catch (error) {
      // No database or no migrations table yet: the migrator makes them.
      const code = (error as { code?: unknown }).code
      if (code === 'ER_BAD_DB_ERROR' || code === 'ER_NO_SUCH_TABLE') return false
      throw error
    }
  }

  async function applyMigrations(): Promise<void> {
    if (await upToDate()) return
    // drizzle is only the migrator: loaded when a migration has to run.
    const [{ drizzle }, { migrate }] = await Promise.all([import('drizzle-orm/mysql2'), import('drizzle-orm/mysql2/migrator')])
    const admin = await mysql.createConnection({ ...base, host: options.host })
    try {
      // The name is validated by the configuration schema ([A-Za-z0-9_]), so quoting it is safe.
      await admin.query(`CREATE DATABASE IF NOT EXISTS \`${options.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
      // Cold starts race each other; the named lock lets one migrate while the others wait. GET_LOCK
      // answers 1 when taken, 0 when the wait ran out, NULL on an error: only 1 lets this one migrate.
      const lockSeconds = options.migrationLockSeconds ?? 60
      const [rows] = await admin.query({ sql: 'SELECT GET_LOCK(?, ?) AS taken', values: [`id-minter-migrations:${options.database}`, lockSeconds] })
      const taken = (rows as Array<{ taken: number | null }>)[0]?.taken
      if (taken !== 1) {
        throw new Error(`migrations not applied: the migration lock was not taken within ${lockSeconds} s (GET_LOCK answered ${taken === 0 ? '0: another instance holds it' : String(taken)})`)
      }
      await migrate(drizzle({ client: primaryPool }), { migrationsFolder })
    } finally {
      await admin.end().catch(() => {})
    }
  }

  let migrated: Promise<void> | undefined
  /** Resolves once the schema is in place; a failure is retried on the next call. */
  const ready = options.applyMigrations
    ? () =>
        (migrated ??= applyMigrations().catch((error: unknown) => {
          migrated = undefined
          throw error
        }))
    : undefined

  /** Resolves when the identifiers table can be read on the primary (and the replica) within the deadline. */
  async function ping(deadline: Deadline): Promise<void> {
    const stage = 'checking the database'
    if (ready) await within(deadline, stage, ready())
    // Reading the table, not just SELECT 1, so a database without the schema is reported too.
    const probe = 'SELECT 1 FROM identifiers LIMIT 1'
    for (const pool of replicaPool ? [primaryPool, replicaPool] : [primaryPool]) {
      await withConnection(pool, deadline, stage, (query) => query(probe))
    }
  }

  async function close(): Promise<void> {
    await Promise.all([primaryPool.end(), replicaPool?.end()])
  }

  return { primaryPool, replicaPool, ready, applyMigrations, ping, close }
}
