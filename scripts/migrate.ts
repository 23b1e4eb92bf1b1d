// `npm run db:migrate`: creates the identifiers database if missing and applies migrations/.
import { loadConfig } from '../src/config.js'
import { databaseOptions } from '../src/plugins/database.js'
import { openDatabase } from '../src/services/identifier-store/database.js'
import { localEnvironment } from '../fixtures/local-env.js'

const config = loadConfig(localEnvironment())
// Migrations run on the primary only, over one connection.
const database = openDatabase({ ...databaseOptions(config), replicaHost: undefined, connectionLimit: 1, applyMigrations: true })
try {
  await database.applyMigrations()
  process.stdout.write(`migrations applied to ${config.IDENTIFIERS_DATABASE} on ${config.cluster_url}:${config.db_port}\n`)
} finally {
  await database.close()
}
