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
  t.throws(() => loadConfig({ ...localEnv, es_downstream_protocol: 'ftp' }), { message: /^Invalid configuration: es_downstream_protocol="ftp"/ })
  t.throws(() => loadConfig({ ...localEnv, IDENTIFIERS_DATABASE: 'x`; DROP' }), { message: /IDENTIFIERS_DATABASE/ })
  t.throws(() => loadConfig({ ...localEnv, es_downstream_password: 'hunter2' }), { message: /es_downstream_username is required/ })
})

t.test('loadConfig never repeats a secret in its error', async (t) => {
  t.throws(() => loadConfig({ ...localEnv, es_apikey: '' , max_connections: '0', db_password: 'hunter2' }), { message: /max_connections/ })
  const error = (() => {
    try {
      loadConfig({ ...localEnv, db_password: 'x'.repeat(3), db_username: '' })
    } catch (e) {
      return e as Error
    }
  })()
  t.notMatch(error?.message ?? '', /xxx/)
})
