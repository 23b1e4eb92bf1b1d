import fp from 'fastify-plugin'
import type { Config, DatabaseConfig } from '../config.js'
import { openDatabase, type DatabaseOptions } from '../services/identifier-store/database.js'

declare module 'fastify' {
  interface FastifyInstance {
    database: ReturnType<typeof openDatabase>
  }
}

/** The database settings of a configuration (also what `npm run db:migrate` connects with). */
export function databaseOptions(config: DatabaseConfig): DatabaseOptions {
  return {
    host: config.cluster_url,
    replicaHost: config.cluster_url_readonly,
    port: config.db_port,
    user: config.db_username,
    password: config.db_password,
    database: config.IDENTIFIERS_DATABASE,
    connectionLimit: config.max_connections,
    applyMigrations: config.APPLY_MIGRATIONS,
  }
}

/** The MySQL pools (primary, and a read replica when configured), ended when the app closes. */
export default fp(
  async (app, config: Config) => {
    const database = openDatabase({
      ...databaseOptions(config),
      onConnectionSetupError: (error) => app.log.error({ err: error }, 'a new database connection could not be set to READ COMMITTED: destroyed'),
    })
    app.decorate('database', database)
    if (database.ready) {
      // Start migrating now, but never block or crash start-up on it: a database that is down
      // shows in /health, and the first request that needs it tries again.
      database.ready().catch((error: unknown) => app.log.error({ err: error }, 'migrations not applied yet'))
    }
    app.addHook('onClose', async () => {
      // Ending a pool waits for its connections to close; one cut off in a network outage fails to,
      // and that must not fail the shutdown of everything else.
      await database.close().catch((error: unknown) => app.log.warn({ err: error }, 'database pools did not close cleanly'))
    })
  },
  { name: 'database' },
)
