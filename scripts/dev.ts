// `npm run dev`: local defaults, the dev indices with the real mappings, a few sample works, then the server.
import { Client } from '@elastic/elasticsearch'
import { loadConfig } from '../src/config.js'
import { ensureIndex, seedSourceWorks } from '../fixtures/indices.js'
import { localEnvironment } from '../fixtures/local-env.js'
import { devSampleWorks } from '../fixtures/works.js'

Object.assign(process.env, localEnvironment())
const config = loadConfig()

const es = new Client({ node: `${config.es_upstream_protocol}://${config.es_upstream_host}:${config.es_upstream_port}` })
await ensureIndex(es, config.es_source_index, 'source')
await ensureIndex(es, config.es_identified_index, 'identified')
const samples = devSampleWorks()
await seedSourceWorks(es, config.es_source_index, samples)
await es.close()

await import('../src/server.js')
const base = `http://${config.HOST}:${config.PORT}`
process.stdout.write(
  `\nid-minter is running at ${base}\n` +
    `  Swagger UI: ${base}/documentation\n` +
    `  Health:     ${base}/health\n` +
    `  Sample works in ${config.es_source_index}: ${samples.map((s) => s.id).join(', ')}\n\n`,
)
