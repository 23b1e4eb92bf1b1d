import net, { type AddressInfo } from 'node:net'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { newApiKey } from '../../src/services/api-keys.js'
import { seedSourceWorks } from '../../fixtures/indices.js'
import { makeWork } from '../../fixtures/works.js'
import { isolatedConfig, prepareStores, setup } from '../helpers.js'

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

/** The forms a secret takes in a JSON log line: its text, and a Buffer as pino writes one (a list of byte values). */
function leaks(output: string, secret: string): string[] {
  const bytes = [...Buffer.from(secret)].join(',')
  return [
    ...(output.includes(secret) ? ['as text'] : []),
    ...(output.includes(bytes) ? ['as the bytes of a Buffer'] : []),
  ]
}

t.test('secrets never reach the logs: the real lines that carry request headers and dependency errors', async (t) => {
  const output: string[] = []
  const stream = new PassThrough()
  stream.on('data', (chunk: Buffer) => output.push(chunk.toString()))
  const apiKey = 'sentinel-api-key-7f3a9c'
  const secrets = {
    API_KEYS: apiKey,
    // A wrong password: the database refuses it, so the start-up migration and the mint both log the refusal.
    db_password: 'sentinel-db-password-91c2e4',
    es_apikey: 'sentinel-es-apikey-4d8e51',
    es_downstream_password: 'sentinel-es-password-b6e07a',
  }
  const config = isolatedConfig('access-logs', { ...secrets, es_downstream_username: 'elastic', LOG_LEVEL: 'trace' })
  const es = await prepareStores(t, config)
  const work = makeWork({ value: 'bsecret' })
  await seedSourceWorks(es, config.es_source_index, [work])
  const app = await buildApp(config, { logStream: stream })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const headers = { 'x-api-key': apiKey, authorization: `Bearer ${apiKey}`, cookie: `session=${apiKey}` }

  // Over a real socket, as a caller sends them: the mint reaches the database, which refuses the password.
  const mint = await fetch(`http://127.0.0.1:${port}/mint`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', 'x-request-id': 'secret-mint' },
    body: JSON.stringify({ sourceIdentifiers: [work.id] }),
  })
  t.equal(mint.status, 503, 'the mint is answered 503: the database refuses the password')
  const health = await fetch(`http://127.0.0.1:${port}/health`, { headers: { ...headers, 'x-request-id': 'secret-health' } })
  t.equal(health.status, 503, '/health says the database is down')
  // A request Node's HTTP parser refuses: Fastify logs the error with the raw bytes it had read, headers included.
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write(`POST /mint HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${apiKey}\r\nX-Api-Key: ${apiKey}\r\nA header without a colon\r\n\r\n`),
    )
    let answer = ''
    socket.on('data', (data) => (answer += data.toString()))
    socket.on('close', () => resolve(answer))
    socket.on('error', reject)
  })
  t.match(raw, /^HTTP\/1\.1 400 /, 'the malformed request is answered 400')
  await app.close()

  const rawLines = output.join('').split('\n').filter(Boolean)
  const logged = rawLines.map((text) => JSON.parse(text) as Record<string, unknown>)
  const line = (msg: string, match: Record<string, unknown> = {}) => logged.find((l) => l.msg === msg && Object.entries(match).every(([k, v]) => l[k] === v))
  // The lines that carry what could hold a secret were written: otherwise the checks below prove nothing.
  t.match(line('migrations not applied yet'), { err: { code: 'ER_ACCESS_DENIED_ERROR' } }, 'start-up logged the database\'s refusal, with the error')
  t.match(line('dependency unavailable', { reqId: 'secret-mint' }), { dependency: 'database', err: { type: 'DependencyUnavailableError' } }, 'the mint logged the dependency error')
  t.match(line('request completed', { reqId: 'secret-mint' }), { statusCode: 503 }, 'the mint request was logged')
  t.match(line('request completed', { reqId: 'secret-health' }), { statusCode: 503 }, 'the health request was logged')
  const clientError = line('client error')
  t.equal((clientError?.err as { rawPacket?: unknown } | undefined)?.rawPacket, '[redacted]', 'the malformed request was logged, its raw packet (which holds the request headers) redacted')

  const text = output.join('')
  for (const [name, secret] of Object.entries(secrets)) {
    if (name === 'API_KEYS') continue
    t.same(leaks(text, secret), [], `${name} appears nowhere in the ${logged.length} lines`)
  }
  t.same(leaks(rawLines.join('\n'), apiKey), [], 'the API key appears in no line, the client error line included')
})
