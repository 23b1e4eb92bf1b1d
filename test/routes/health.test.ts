import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { buildApp } from '../../src/app.js'
import { ensureIndex } from '../../fixtures/indices.js'
import { adminConnection, isolatedConfig, mint, prepareStores, setup } from '../helpers.js'

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
  const madeUp = await app.inject({ method: 'GET', url: '/health' })
  t.equal(madeUp.statusCode, 503, 'an index with mappings Elasticsearch would make up is not the identified index')
  t.match(madeUp.json().checks.identifiedIndex.error, /dynamic is true, not false/)

  await es.indices.delete({ index: config.es_identified_index })
  await ensureIndex(es, config.es_identified_index, 'identified')
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

t.test('POST /mint with a misspelt identified index answers 503 naming it, and never creates it', async (t) => {
  const ctx = await setup(t, 'health-misspelt')
  const work = makeWork({ value: 'b1' })
  await ctx.seed([work])
  const misspelt = `${ctx.config.es_identified_index}-typo`
  const app = await buildApp({ ...ctx.config, es_identified_index: misspelt })
  t.teardown(() => app.close())
  t.teardown(() => ctx.es.indices.delete({ index: misspelt, ignore_unavailable: true }))

  const health = await app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 503)
  t.match(health.json().checks.identifiedIndex.error, misspelt)
  const minted = await app.inject({ method: 'POST', url: '/mint', payload: { sourceIdentifiers: [work.id] } })
  t.equal(minted.statusCode, 503)
  t.match(minted.json().message, `Identified index ${misspelt} does not exist`)
  t.equal(await ctx.es.indices.exists({ index: misspelt }), false, 'Elasticsearch did not auto-create it')
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 503, 'and /health still says so')
})

t.test('GET /health/live answers 200 while a dependency is down; /health and /health/ready answer 503', async (t) => {
  const config = isolatedConfig('health-live', { db_port: '1', APPLY_MIGRATIONS: 'false' })
  await prepareStores(t, config)
  const app = await buildApp(config)
  t.teardown(() => app.close())
  t.same((await app.inject({ method: 'GET', url: '/health/live' })).json(), { status: 'ok' })
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
  for (const url of ['/health', '/health/ready']) {
    const response = await app.inject({ method: 'GET', url })
    t.equal(response.statusCode, 503, url)
    t.equal(response.json().checks.database.status, 'error')
  }
})

t.test('POST /mint and /health: a closed identified index, or one blocked for writes (a full disk), is the index\'s outage (503), not every work\'s failure', async (t) => {
  const ctx = await setup(t, 'health-blocked')
  const work = makeWork({ value: 'bblocked' })
  await ctx.seed([work])
  const index = ctx.config.es_identified_index
  const check = async (what: string, reason: RegExp) => {
    // A new app: the identified index's check is trusted for 10 s once it passed.
    const app = await buildApp(ctx.config)
    t.teardown(() => app.close())
    const minted = await app.inject({ method: 'POST', url: '/mint', payload: { sourceIdentifiers: [work.id] } })
    t.equal(minted.statusCode, 503, `${what}: the mint is a 503, to be retried`)
    t.match(minted.json().message, reason)
    const health = await app.inject({ method: 'GET', url: '/health' })
    t.equal(health.statusCode, 503, `${what}: not ready`)
    t.match(health.json().checks.identifiedIndex.error, reason)
  }
  await ctx.es.indices.putSettings({ index, settings: { 'index.blocks.read_only_allow_delete': true } })
  await check('flood-stage block', /refuses writes \(index\.blocks\.read_only_allow_delete\)/)
  await ctx.es.indices.putSettings({ index, settings: { 'index.blocks.read_only_allow_delete': null } })
  await ctx.es.indices.close({ index })
  t.teardown(() => ctx.es.indices.open({ index }).catch(() => {}))
  await check('closed', new RegExp(`Identified index ${index} is closed`))
  await ctx.es.indices.open({ index, wait_for_active_shards: 1 })
  t.equal((await mint(ctx.app, { sourceIdentifiers: [work.id] })).status, 200, 'open and unblocked, it mints')
})
