import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { localEnv } from '../fixtures/local-env.js'

t.test('loadConfig applies defaults and converts types', async (t) => {
  const config = loadConfig({ ...localEnv, db_port: undefined, PORT: undefined, LOG_LEVEL: 'DEBUG', APPLY_MIGRATIONS: 'false' })
  t.equal(config.db_port, 3306)
  t.equal(config.max_connections, 10)
  t.equal(config.IDENTIFIERS_DATABASE, 'identifiers')
  t.equal(config.LOG_LEVEL, 'debug', 'LOG_LEVEL is case-insensitive')
  t.equal(config.APPLY_MIGRATIONS, false)
  t.equal(config.es_upstream_protocol, 'http')
})

t.test('loadConfig stops on a missing or malformed value with one line naming the variable', async (t) => {
  t.throws(() => loadConfig({ ...localEnv, cluster_url: undefined }), {
    name: 'ConfigError',
    message: 'Invalid configuration: cluster_url is required but not set',
  })
  t.throws(() => loadConfig({ ...localEnv, db_port: 'three' }), { message: /^Invalid configuration: db_port="three": / })
  t.throws(() => loadConfig({ ...localEnv, es_downstream_protocol: 'ftp' }), { message: 'Invalid configuration: es_downstream_protocol="ftp": must be one of http, https' })
  t.throws(() => loadConfig({ ...localEnv, use_downstream: 'SQS' }), { message: 'Invalid configuration: use_downstream="SQS": must be one of sqs, stdio, none' }, 'a choice lists its values')
  t.throws(() => loadConfig({ ...localEnv, queue_url: 'in-queue' }), { message: 'Invalid configuration: queue_url="in-queue": expected string to match \'^https?://\\S+$\'' }, 'a pattern is shown as it is')
  t.throws(() => loadConfig({ ...localEnv, IDENTIFIERS_DATABASE: 'x`; DROP' }), { message: /IDENTIFIERS_DATABASE/ })
  t.throws(() => loadConfig({ ...localEnv, es_downstream_password: 'hunter2' }), { message: /es_downstream_username is required/ })
})

t.test('loadConfig never repeats a secret in its error', async (t) => {
  t.throws(() => loadConfig({ ...localEnv, es_apikey: '', max_connections: '0', db_password: 'hunter2' }), { message: /max_connections/ })
  const error = (() => {
    try {
      loadConfig({ ...localEnv, db_password: 'x'.repeat(3), db_username: '' })
    } catch (e) {
      return e as Error
    }
  })()
  t.notMatch(error?.message ?? '', /xxx/)
})

t.test('src/server.ts: a configuration error stops start-up with one line on stderr that repeats no secret', async (t) => {
  const secrets = { db_password: 'sentinel-db-password-3e71', API_KEYS: 'sentinel-api-key-c90d', es_apikey: 'sentinel-es-apikey-52af', es_downstream_password: 'sentinel-es-password-0b84' }
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['max_connections=0', { max_connections: '0', es_downstream_username: 'elastic' }, /^Invalid configuration: max_connections="0": /],
    ['a password without a user', {}, /^Invalid configuration: es_downstream_username is required when es_downstream_password is set$/],
    // Checked by the queue plugin at start-up, not by the schema: still one line, no stack trace.
    ['an SQS target without a region', { es_downstream_username: 'elastic', use_downstream: 'sqs', downstream_queue_url: 'http://127.0.0.1:9324/000000000000/x', AWS_REGION: '', AWS_DEFAULT_REGION: '' }, /^Invalid configuration: AWS_REGION is required when use_downstream is sqs or queue_url is set$/],
  ]
  for (const [what, env, line] of cases) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { PATH: process.env.PATH ?? '', ...localEnv, ...secrets, LOG_LEVEL: 'trace', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString()))
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()))
    // A configuration that loaded would start a server: stop it rather than wait for ever.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    const [code] = (await once(child, 'close')) as [number | null]
    clearTimeout(timer)
    t.equal(code, 1, `${what}: exit code 1`)
    const lines = stderr.split('\n').filter(Boolean)
    t.equal(lines.length, 1, `${what}: one line on stderr`)
    t.match(lines[0], line, `${what}: the line names the variable: ${lines[0]}`)
    for (const [name, secret] of Object.entries(secrets)) t.notOk(`${stdout}\n${stderr}`.includes(secret), `${what}: ${name} is not repeated`)
  }
})

t.test('loadConfig refuses what would silently run otherwise: blank API keys, an index that is several, the source index as the target, numbers not written in digits', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ API_KEYS: ' , ' }, /^Invalid configuration: API_KEYS=\(value hidden\): holds no key, only commas and spaces/],
    [{ API_KEYS: ',' }, /holds no key/],
    [{ es_source_index: 'works-*' }, /^Invalid configuration: es_source_index="works-\*": must name one index or alias/],
    [{ es_identified_index: 'a,b' }, /es_identified_index="a,b": must name one index or alias/],
    [{ es_identified_index: 'Works' }, /must name one index or alias: lower case/],
    [{ es_identified_index: localEnv.es_source_index as string }, /must not be the source index/],
    [{ max_connections: '1e3' }, /^Invalid configuration: max_connections="1e3": must be a whole number, written in digits$/],
    [{ PORT: '8e3' }, /PORT="8e3": must be a whole number/],
    [{ MINT_TIMEOUT_MS: '2.5e4' }, /MINT_TIMEOUT_MS="2.5e4": must be a whole number/],
  ]
  for (const [env, message] of cases) t.throws(() => loadConfig({ ...localEnv, ...env }), message, JSON.stringify(env))
  t.equal(loadConfig({ ...localEnv, API_KEYS: ' key-1 , ' }).API_KEYS, ' key-1 , ', 'one real key among blanks is fine')
  t.equal(loadConfig({ ...localEnv, max_connections: '12' }).max_connections, 12)
})
