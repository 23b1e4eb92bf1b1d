import { PassThrough } from 'node:stream'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { newApiKey } from '../../src/services/api-keys.js'
import { makeWork } from '../../fixtures/works.js'
import { isolatedConfig, setup } from '../helpers.js'

t.test('POST /mint with API keys configured answers 401 without a valid key, and mints with one', async (t) => {
  const hashed = newApiKey()
  const ctx = await setup(t, 'access-keys', { API_KEYS: 'plain-key-1', API_KEY_HASHES: hashed.hash })
  const work = makeWork({ value: 'b1' })
  await ctx.seed([work])
  const payload = { sourceIdentifiers: [work.id] }

  for (const headers of [{}, { 'x-api-key': 'wrong' }, { authorization: 'Bearer wrong' }, { authorization: 'Basic cGxhaW4ta2V5LTE=' }]) {
    const response = await ctx.app.inject({ method: 'POST', url: '/mint', payload, headers })
    t.equal(response.statusCode, 401, JSON.stringify(headers))
    t.same(response.json(), {
      statusCode: 401,
      error: 'Unauthorized',
      message: 'A valid API key is required: send it in the x-api-key header or as a Bearer token',
    })
  }
  t.equal(await ctx.sql('SELECT 1 FROM identifiers').then((rows) => rows.length), 0, 'nothing minted without a key')

  for (const headers of [{ 'x-api-key': 'plain-key-1' }, { authorization: `Bearer ${hashed.key}` }]) {
    const response = await ctx.app.inject({ method: 'POST', url: '/mint', payload, headers })
    t.equal(response.statusCode, 200, JSON.stringify(Object.keys(headers)))
    t.same(response.json().successes, [work.id])
  }
  const health = await ctx.app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200, '/health stays open')
})

t.test('responses carry security headers, and the Swagger UI still loads', async (t) => {
  const app = await buildApp(isolatedConfig('access-headers', { APPLY_MIGRATIONS: 'false' }))
  t.teardown(() => app.close())
  const response = await app.inject({ method: 'POST', url: '/mint', payload: {} })
  t.equal(response.statusCode, 400)
  t.equal(response.headers['x-content-type-options'], 'nosniff')
  t.match(response.headers['content-security-policy'], /default-src 'self'/)
  t.ok(response.headers['x-request-id'], 'every response names its request id')

  const page = await app.inject({ method: 'GET', url: '/documentation' })
  t.equal(page.statusCode, 200)
  t.match(page.body, /<title>Swagger UI<\/title>/)
  t.match(page.headers['content-security-policy'], /script-src 'self'/)
  t.notMatch(page.headers['content-security-policy'], /upgrade-insecure-requests/)
  const document = await app.inject({ method: 'GET', url: '/documentation/json' })
  t.equal(document.json().paths['/mint'].post.summary, 'Mint canonical IDs for works and index them')
})

t.test('SWAGGER_UI=false turns the Swagger UI off', async (t) => {
  const app = await buildApp(isolatedConfig('access-no-ui', { APPLY_MIGRATIONS: 'false', SWAGGER_UI: 'false' }))
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'GET', url: '/documentation' })).statusCode, 404)
})

t.test('secrets never reach the logs', async (t) => {
  const lines: string[] = []
  const stream = new PassThrough()
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)))
  const secrets = { db_password: 'db-secret-1', API_KEYS: 'api-secret-2', es_apikey: 'es-secret-3', es_downstream_password: 'es-secret-4' }
  // A database that refuses the connection makes the service log errors carrying its configuration.
  const config = isolatedConfig('access-logs', { ...secrets, es_downstream_username: 'u', db_port: '1', LOG_LEVEL: 'trace' })
  const app = await buildApp(config, { logStream: stream })
  t.teardown(() => app.close())
  await app.inject({
    method: 'POST',
    url: '/mint',
    payload: { sourceIdentifiers: ['x'] },
    headers: { 'x-api-key': 'api-secret-2', authorization: 'Bearer api-secret-2', cookie: 'session=api-secret-2' },
  })
  await app.inject({ method: 'GET', url: '/health', headers: { authorization: 'Bearer api-secret-2' } })
  app.log.info({ config }, 'configuration in a log line')
  t.ok(lines.length > 3, `${lines.length} log lines written`)
  const all = lines.join('\n')
  for (const secret of Object.values(secrets)) t.notOk(all.includes(secret), `${secret} is not logged`)
  t.match(all, /\[redacted\]/)
})
