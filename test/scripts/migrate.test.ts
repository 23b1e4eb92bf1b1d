// npm run db:migrate takes its database from the environment, as the service does: a missing
// variable stops it with one line naming it. Only --local fills in npm run services' MariaDB.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { adminConnection, isolatedConfig, prepareStores } from '../helpers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

function migrate(args: string[], env: Record<string, string>) {
  const { NODE_OPTIONS: _loader, ...inherited } = process.env
  const clean = Object.fromEntries(Object.entries(inherited).filter(([name]) => !/^(cluster_url|db_|IDENTIFIERS_DATABASE|max_connections|APPLY_MIGRATIONS)/.test(name)))
  return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts', ...args], { cwd: root, env: { ...clean, ...env }, encoding: 'utf8', timeout: 60_000 })
}

t.test('db:migrate with cluster_url unset stops with one line naming it, and touches no server', async (t) => {
  const run = migrate([], { db_username: 'root', IDENTIFIERS_DATABASE: 't_never_created_by_migrate' })
  t.equal(run.status, 1)
  t.match(run.stderr, /^Invalid configuration: cluster_url is required but not set \(for the local services of npm run services, add --local\)\n$/)
  const admin = await adminConnection()
  t.teardown(() => admin.end())
  const [rows] = await admin.query("SHOW DATABASES LIKE 't_never_created_by_migrate'")
  t.same(rows, [], 'no database was created anywhere')
})

t.test('db:migrate --local migrates the named database on the local services; a mistyped flag stops it', async (t) => {
  const config = isolatedConfig('migrate-local')
  await prepareStores(t, config)
  const run = migrate(['--local'], { IDENTIFIERS_DATABASE: config.IDENTIFIERS_DATABASE })
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, `migrations applied to ${config.IDENTIFIERS_DATABASE} on 127.0.0.1:3306`)
  const typo = migrate(['--lcoal'], { IDENTIFIERS_DATABASE: config.IDENTIFIERS_DATABASE })
  t.equal(typo.status, 2)
  t.match(typo.stderr, /Unknown option '--lcoal'/)
})
