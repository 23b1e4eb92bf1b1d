// `npm run db:migrate`: creates the identifiers database if missing and applies migrations/.
import { loadConfig } from '../src/config.js'
import { openDatabase } from '../src/services/identifier-store/database.js'
import { localEnvironment } from '../fixtures/local-env.js'

const config = loadConfig(localEnvironment())
const database = openDatabase({
  host: config.cluster_url,
  port: config.db_port,
  user: config.db_username,
  password: config.db_password,
  database: config.IDENTIFIERS_DATABASE,
  connectionLimit: 1,
  applyMigrations: true,
})
try {
  await database.applyMigrations()
  process.stdout.write(`migrations applied to ${config.IDENTIFIERS_DATABASE} on ${config.cluster_url}:${config.db_port}\n`)
} finally {
  await database.close()
}
