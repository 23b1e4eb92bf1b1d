import { drizzle } from 'drizzle-orm/mysql2'
import { migrate } from 'drizzle-orm/mysql2/migrator'
import mysql, { type Pool, type PoolOptions } from 'mysql2/promise'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

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
}

// MIGRATIONS_FOLDER lets a bundled artifact (the Lambda zip) say where it ships the SQL files.
export const defaultMigrationsFolder =
  process.env.MIGRATIONS_FOLDER ?? fileURLToPath(new URL('../../../migrations', import.meta.url))

interface CallbackConnection {
  query(sql: string, callback: (error: Error | null) => void): void
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
      maxIdle: options.connectionLimit,
      idleTimeout: 60_000,
    })
    // READ COMMITTED takes fewer gap locks than REPEATABLE READ, so overlapping inserts deadlock
    // less; set per connection so no request pays a round trip for it.
    // The event hands over the callback-style connection; an error here surfaces on the next query.
    pool.on('connection', (connection) => {
      ;(connection as unknown as CallbackConnection).query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', () => {})
    })
    return pool
  }

  // The identifier store queries these pools directly; drizzle is only the migrator.
  const primaryPool = createPool(options.host)
  const replicaPool = options.replicaHost ? createPool(options.replicaHost) : undefined

  async function applyMigrations(): Promise<void> {
    const admin = await mysql.createConnection({ ...base, host: options.host })
    try {
      // The name is validated by the configuration schema ([A-Za-z0-9_]), so quoting it is safe.
      await admin.query(`CREATE DATABASE IF NOT EXISTS \`${options.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
      // Cold starts race each other; the named lock lets one migrate while the others wait.
      await admin.query('SELECT GET_LOCK(?, 60)', [`id-minter-migrations:${options.database}`])
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

  async function ping(): Promise<void> {
    if (ready) await ready()
    // Reading the table, not just SELECT 1, so a database without the schema is reported too.
    const probe = 'SELECT 1 FROM identifiers LIMIT 1'
    await primaryPool.query(probe)
    if (replicaPool) await replicaPool.query(probe)
  }

  async function close(): Promise<void> {
    await Promise.all([primaryPool.end(), replicaPool?.end()])
  }

  return { primaryPool, replicaPool, ready, applyMigrations, ping, close }
}
