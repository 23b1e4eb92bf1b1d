import t from 'tap'
import { buildApp } from '../../src/app.js'
import { adminConnection, isolatedConfig, prepareStores, setup } from '../helpers.js'

t.test('GET /health answers 200 with every check ok when the database and both indices answer', async (t) => {
  const { app } = await setup(t, 'health-ok')
  const response = await app.inject({ method: 'GET', url: '/health' })
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.equal(body.status, 'ok')
  t.same(Object.keys(body.checks).sort(), ['database', 'identifiedIndex', 'sourceIndex'])
  for (const check of Object.values(body.checks) as Array<{ status: string }>) t.equal(check.status, 'ok')
})

t.test('GET /health answers 503 naming the index that is missing, and 200 once it exists', async (t) => {
  const { app, es, config } = await setup(t, 'health-index')
  await es.indices.delete({ index: config.es_identified_index })
  const down = await app.inject({ method: 'GET', url: '/health' })
  t.equal(down.statusCode, 503)
  t.equal(down.json().status, 'error')
  t.equal(down.json().checks.identifiedIndex.status, 'error')
  t.match(down.json().checks.identifiedIndex.error, config.es_identified_index)
  t.equal(down.json().checks.sourceIndex.status, 'ok')

  await es.indices.create({ index: config.es_identified_index })
  const up = await app.inject({ method: 'GET', url: '/health' })
  t.equal(up.statusCode, 200, 'recovers without a restart')
})

t.test('GET /health answers 503 naming the database when it cannot be reached', async (t) => {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  const config = isolatedConfig('health-db-down', { db_port: '1' })
  const app = await buildApp(config)
  t.teardown(() => app.close())
  const response = await app.inject({ method: 'GET', url: '/health' })
  t.equal(response.statusCode, 503)
  t.equal(response.json().checks.database.status, 'error')
  t.match(response.json().checks.database.error, /ECONNREFUSED/)
})

t.test('GET /health answers 503 when the database has no schema (migrations not applied)', async (t) => {
  // An empty database of the test's own: it exists, but nothing was migrated into it.
  const config = isolatedConfig('health-no-schema', { APPLY_MIGRATIONS: 'false' })
  await prepareStores(t, config)
  const admin = await adminConnection()
  await admin.query(`CREATE DATABASE \`${config.IDENTIFIERS_DATABASE}\``)
  await admin.end()
  const app = await buildApp(config)
  t.teardown(() => app.close())
  const response = await app.inject({ method: 'GET', url: '/health' })
  t.equal(response.statusCode, 503)
  t.match(response.json().checks.database.error, /identifiers/)
})
