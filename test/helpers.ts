import { Client } from '@elastic/elasticsearch'
import { randomBytes } from 'node:crypto'
import mysql from 'mysql2/promise'
import { buildApp, type App, type BuildOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { ensureIndex, seedSourceWorks } from '../fixtures/indices.js'
import { localEnv } from '../fixtures/local-env.js'

/** The slice of tap's Test that the helpers need. */
export interface Teardown {
  teardown(fn: () => unknown): void
}

/**
 * A configuration of this test's own: a database and two indices no other test file uses,
 * because tap runs files in parallel.
 */
export function isolatedConfig(name: string, overrides: Record<string, string> = {}): Config {
  const suffix = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '_')}_${randomBytes(3).toString('hex')}`
  return loadConfig({
    ...localEnv,
    IDENTIFIERS_DATABASE: `t_${suffix}`.slice(0, 64),
    es_source_index: `t-source-${suffix.replace(/_/g, '-')}`,
    es_identified_index: `t-identified-${suffix.replace(/_/g, '-')}`,
    LOG_LEVEL: 'silent',
    EMF_METRICS: 'false',
    ...overrides,
  })
}

export const esClient = () => new Client({ node: `http://${localEnv.es_upstream_host}:${localEnv.es_upstream_port}` })

export const adminConnection = () =>
  mysql.createConnection({ host: localEnv.cluster_url, port: Number(localEnv.db_port), user: localEnv.db_username, password: '' })

/** Creates the test's indices with the real mappings, and removes them and its database afterwards. */
export async function prepareStores(t: Teardown, config: Config): Promise<Client> {
  const es = esClient()
  await ensureIndex(es, config.es_source_index, 'source')
  await ensureIndex(es, config.es_identified_index, 'identified')
  // Teardown drops the database: only ever one this helper named.
  if (!/^t_[a-z0-9_]+$/.test(config.IDENTIFIERS_DATABASE)) throw new Error(`refusing to manage database ${config.IDENTIFIERS_DATABASE}`)
  t.teardown(async () => {
    await es.indices.delete({ index: [config.es_source_index, config.es_identified_index], ignore_unavailable: true })
    await es.close()
    const admin = await adminConnection()
    await admin.query(`DROP DATABASE IF EXISTS \`${config.IDENTIFIERS_DATABASE}\``)
    await admin.end()
  })
  return es
}

export interface TestContext {
  app: App
  config: Config
  es: Client
  seed(works: Array<{ id: string; work: unknown }>): Promise<void>
  /** The identified work indexed under this canonical ID, after a refresh. */
  identified(canonicalId: string): Promise<Record<string, unknown> | undefined>
  /** Every row of the identifiers table. */
  mappings(): Promise<Array<{ OntologyType: string; SourceSystem: string; SourceId: string; CanonicalId: string }>>
  sql<T = Record<string, unknown>>(statement: string, params?: unknown[]): Promise<T[]>
}

/** An app built through the same factory as production, on stores of the test's own, closed afterwards. */
export async function setup(t: Teardown, name: string, overrides: Record<string, string> = {}, options: BuildOptions = {}): Promise<TestContext> {
  const config = isolatedConfig(name, overrides)
  const es = await prepareStores(t, config)
  const app = await buildApp(config, options)
  t.teardown(() => app.close())
  await app.ready()
  if (app.database.ready) await app.database.ready()
  const sql = async <T>(statement: string, params: unknown[] = []) => {
    const [rows] = await app.database.primaryPool.query(statement, params)
    return rows as T[]
  }
  return {
    app,
    config,
    es,
    seed: (works) => seedSourceWorks(es, config.es_source_index, works),
    async identified(canonicalId) {
      await es.indices.refresh({ index: config.es_identified_index })
      const response = await es.get<Record<string, unknown>>({ index: config.es_identified_index, id: canonicalId }, { ignore: [404] })
      return response.found ? response._source : undefined
    },
    mappings: () =>
      sql(
        'SELECT CAST(OntologyType AS CHAR) AS OntologyType, CAST(SourceSystem AS CHAR) AS SourceSystem, CAST(SourceId AS CHAR) AS SourceId, CanonicalId FROM identifiers ORDER BY CreatedAt, OntologyType, SourceSystem, SourceId',
      ),
    sql,
  }
}

/** POSTs a mint request through inject and returns status and parsed body. */
export async function mint(app: App, payload: unknown) {
  const response = await app.inject({ method: 'POST', url: '/mint', payload: payload as object })
  return { status: response.statusCode, body: response.json() }
}

/**
 * The command and arguments that run node with exactly `env` and no more, as the Lambda runtime
 * starts it: tap puts its own NODE_OPTIONS (a loader that turns source maps on) into every child
 * process's environment, whatever the spawn call passes.
 */
export function cleanNode(env: Record<string, string>, nodeArgs: string[]): [command: string, args: string[]] {
  return ['env', ['-i', ...Object.entries(env).map(([name, value]) => `${name}=${value}`), process.execPath, ...nodeArgs]]
}
