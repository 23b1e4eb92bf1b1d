/**
 * THE FLOOR of the reprocess workload (bench/reprocess.ts), one process per slice: the same reads
 * as the service (pages of 1000 ids from a point in time with search_after, sorted by _shard_doc,
 * sliced as the service slices), then for every 100 ids the floor's mint (bench/floor-mint.ts: one
 * mget, the look-up SELECTs, BEGIN, the multi-row INSERTs, COMMIT, one bulk). No framework, no
 * cursor, no budget. Configured by the same environment variables as the service.
 */
import { Client, HttpConnection } from '@elastic/elasticsearch'
import { closeFloor, floorStats, mint } from './floor-mint.js'
import { sampleMemory, serve } from './protocol.js'
import type { ReprocessChildCounters } from './reprocess-child.js'

const PAGE_SIZE = 1000
const CHUNK_SIZE = 100

const env = process.env as Record<string, string>
// The service's client options (src/plugins/elasticsearch.ts), as floor-mint.ts uses them.
const es = new Client({ node: `http://${env.es_upstream_host}:${env.es_upstream_port}`, requestTimeout: 20_000, maxRetries: 2, compression: false, Connection: HttpConnection })
let searches = 0
es.diagnostic.on('request', () => searches++)
const memoryPeaks = sampleMemory()

async function run({ pointInTime, slice }: { pointInTime: string; slice: { id: number; max: number } }): Promise<{ processed: number; calls: number }> {
  let processed = 0
  let pit = pointInTime
  let after: unknown[] | undefined
  for (;;) {
    const page = await es.search({
      pit: { id: pit, keep_alive: '10m' },
      size: PAGE_SIZE,
      sort: ['_shard_doc'],
      _source: false,
      track_total_hits: false,
      allow_partial_search_results: false,
      filter_path: ['pit_id', 'hits.hits._id', 'hits.hits.sort'],
      ...(slice.max > 1 ? { slice } : {}),
      ...(after ? { search_after: after as never } : {}),
    })
    pit = page.pit_id ?? pit
    const hits = page.hits?.hits ?? []
    for (let i = 0; i < hits.length; i += CHUNK_SIZE) await mint(hits.slice(i, i + CHUNK_SIZE).map((hit) => hit._id as string))
    processed += hits.length
    if (hits.length < PAGE_SIZE) return { processed, calls: 1 }
    after = hits.at(-1)?.sort as unknown[]
  }
}

function counters(): ReprocessChildCounters {
  const { user, system } = process.cpuUsage()
  const stats = floorStats()
  return { sqlStatements: stats.sqlStatements, esRequests: stats.esRequests + searches, maxRssBytes: process.resourceUsage().maxRSS * 1024, cpuMs: (user + system) / 1000, memoryPeaks: memoryPeaks() }
}

serve(
  { rssBytes: process.memoryUsage.rss() },
  {
    run,
    counters,
    async close() {
      const result = counters()
      await Promise.all([closeFloor(), es.close()])
      return result
    },
  },
)
