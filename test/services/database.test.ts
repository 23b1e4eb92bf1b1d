// The database side's start-up and session rules, against the real MariaDB: the migration lock
// must be taken before migrating, and a connection whose isolation level cannot be set is not used.
import t from 'tap'
import { localEnv } from '../../fixtures/local-env.js'
import { openDatabase, type DatabaseOptions } from '../../src/services/identifier-store/database.js'
import { adminConnection, isolatedConfig, prepareStores } from '../helpers.js'
import { TcpProxy } from '../reliability/proxy.js'

function options(database: string, overrides: Partial<DatabaseOptions> = {}): DatabaseOptions {
  return {
    host: localEnv.cluster_url as string,
    port: Number(localEnv.db_port),
    user: localEnv.db_username as string,
    password: '',
    database,
    connectionLimit: 2,
    applyMigrations: true,
    ...overrides,
  }
}

t.test('applyMigrations: with the migration lock held elsewhere it fails after its wait, and migrates nothing', async (t) => {
  const config = isolatedConfig('db-lock')
  await prepareStores(t, config)
  const holder = await adminConnection()
  t.teardown(() => holder.end())
  const [[held]] = (await holder.query('SELECT GET_LOCK(?, 0) AS taken', [`id-minter-migrations:${config.IDENTIFIERS_DATABASE}`])) as unknown as [[{ taken: number }]]
  t.equal(held?.taken, 1, 'another instance holds the lock')

  const database = openDatabase(options(config.IDENTIFIERS_DATABASE, { migrationLockSeconds: 1 }))
  t.teardown(() => database.close())
  await t.rejects(database.applyMigrations(), /the migration lock was not taken within 1 s \(GET_LOCK answered 0: another instance holds it\)/)
  const [tables] = await holder.query('SELECT table_name FROM information_schema.tables WHERE table_schema = ?', [config.IDENTIFIERS_DATABASE])
  t.same(tables, [], 'no migration ran')

  await holder.query('SELECT RELEASE_LOCK(?)', [`id-minter-migrations:${config.IDENTIFIERS_DATABASE}`])
  await database.applyMigrations()
  const [after] = await holder.query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_name = 'identifiers'", [config.IDENTIFIERS_DATABASE])
  t.equal((after as unknown[]).length, 1, 'once the lock is free, it migrates')
})

t.test('a new connection whose isolation level the server refuses is destroyed: no statement runs on it', async (t) => {
  const config = isolatedConfig('db-isolation')
  await prepareStores(t, config)
  const setup = openDatabase(options(config.IDENTIFIERS_DATABASE))
  await setup.applyMigrations()
  await setup.close()

  const proxy = await TcpProxy.start({ targetPort: Number(localEnv.db_port), mysql: true })
  t.teardown(() => proxy.close())
  proxy.rewriteStatements((sql) => sql.startsWith('SET SESSION TRANSACTION ISOLATION LEVEL'), 'SET SESSION TRANSACTION ISOLATION LEVEL NO_SUCH_LEVEL')
  const errors: Error[] = []
  const database = openDatabase(options(config.IDENTIFIERS_DATABASE, { port: proxy.port, applyMigrations: false, onConnectionSetupError: (e) => errors.push(e) }))
  t.teardown(() => database.close())

  await t.rejects(database.primaryPool.query('SELECT 42 AS probe_after_isolation'), 'the statement queued behind the refused SET fails')
  t.equal(errors.length, 1, 'the refusal is reported')
  t.match(errors[0]?.message, /syntax|NO_SUCH_LEVEL/i)
  t.notOk(proxy.statements.includes('SELECT 42 AS probe_after_isolation'), 'and never reached the server at another isolation level')
})

t.test('applyMigrations on an up-to-date schema reads one row and takes no lock (a new schema takes it: the first test)', async (t) => {
  const config = isolatedConfig('db-uptodate')
  await prepareStores(t, config)
  const first = openDatabase(options(config.IDENTIFIERS_DATABASE))
  await first.applyMigrations()
  await first.close()

  const holder = await adminConnection()
  t.teardown(() => holder.end())
  await holder.query('SELECT GET_LOCK(?, 0)', [`id-minter-migrations:${config.IDENTIFIERS_DATABASE}`])
  const proxy = await TcpProxy.start({ targetPort: Number(localEnv.db_port), mysql: true })
  t.teardown(() => proxy.close())
  const again = openDatabase(options(config.IDENTIFIERS_DATABASE, { port: proxy.port, migrationLockSeconds: 1 }))
  t.teardown(() => again.close())
  await again.applyMigrations()
  t.same(
    proxy.statements.filter((sql) => !sql.startsWith('SET SESSION')),
    ['SELECT `created_at` FROM `__drizzle_migrations` ORDER BY `created_at` DESC LIMIT 1'],
    'up to date: one statement, while another instance holds the lock',
  )
})
