// `npm run db:migrate [-- --local]`: creates the identifiers database if missing and applies
// migrations/, on the primary named by the environment (cluster_url, db_*, IDENTIFIERS_DATABASE).
// A missing variable stops it; --local uses npm run services' MariaDB for what is not set.
import { databaseOptions } from '../src/plugins/database.js'
import { openDatabase } from '../src/services/identifier-store/database.js'
import { operatorDatabaseConfig, parseCommandLine } from './cli.js'

const args = parseCommandLine({ local: { type: 'boolean', default: false } }, 'usage: npm run db:migrate [-- --local]')
const config = operatorDatabaseConfig(args.local)
// Migrations run on the primary only, over one connection.
const database = openDatabase({ ...databaseOptions(config), replicaHost: undefined, connectionLimit: 1, applyMigrations: true })
try {
  await database.applyMigrations()
  process.stdout.write(`migrations applied to ${config.IDENTIFIERS_DATABASE} on ${config.cluster_url}:${config.db_port}\n`)
} finally {
  await database.close()
}
