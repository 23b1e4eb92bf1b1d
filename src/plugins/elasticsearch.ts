import { Client, HttpConnection, type ClientOptions } from '@elastic/elasticsearch'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { ExactNumberSerializer } from '../services/exact-json.js'

declare module 'fastify' {
  interface FastifyInstance {
    elasticsearch: { source: Client; target: Client }
  }
}

// node:http connections (keep-alive agent) rather than the default undici ones: as fast for these
// few large requests (bench/README.md), and a Lambda cold start neither loads undici nor compiles
// its HTTP parser (WebAssembly) before the first request.
// Responses are parsed keeping every number literal exactly, so a work passes through unchanged.
const common: ClientOptions = { requestTimeout: 20_000, maxRetries: 2, compression: false, Connection: HttpConnection, Serializer: ExactNumberSerializer }

/** The client for the source works and the one for the identified works, as the configuration names them (also what `npm run reprocess` reads and writes with). */
export function elasticsearchClients(config: Config): { source: Client; target: Client } {
  const source = new Client({
    ...common,
    node: `${config.es_upstream_protocol}://${config.es_upstream_host}:${config.es_upstream_port}`,
    ...(config.es_apikey ? { auth: { apiKey: config.es_apikey } } : {}),
  })
  const targetAuth = config.es_downstream_apikey
    ? { apiKey: config.es_downstream_apikey }
    : config.es_downstream_username
      ? { username: config.es_downstream_username, password: config.es_downstream_password ?? '' }
      : undefined
  const target = new Client({
    ...common,
    node: `${config.es_downstream_protocol}://${config.es_downstream_host}:${config.es_downstream_port}`,
    ...(targetAuth ? { auth: targetAuth } : {}),
  })
  return { source, target }
}

/** One client for the source works and one for the identified works, closed with the app. */
export default fp(
  async (app, config: Config) => {
    const { source, target } = elasticsearchClients(config)
    app.decorate('elasticsearch', { source, target })
    app.addHook('onClose', async () => {
      await Promise.all([source.close(), target.close()])
    })
  },
  { name: 'elasticsearch' },
)
