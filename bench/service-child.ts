/**
 * The service under test, in a process of its own so that its memory is its own: the production
 * app factory on a real HTTP listener (127.0.0.1, port 0), configured from the environment the
 * bench gives it. Besides serving, it answers the bench's IPC requests for its counters.
 *
 * The counters here are client-side cross-checks of the server-side counts the bench reads
 * (MariaDB status, Elasticsearch route stats): if the two disagree, something else was using the
 * servers during the run.
 */
import mysql from 'mysql2'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { countSqlStatements, profilerHandlers, sampleMemory, serve, type MemoryPeaks } from './protocol.js'

export interface ServiceCounters {
  sqlStatements: number
  esRequests: number
  rssBytes: number
  maxRssBytes: number
  heapUsedBytes: number
  /** CPU time (user + system) of the process so far. */
  cpuMs: number
  /** Server-side handling time of each POST /mint since the last read (Fastify's reply.elapsedTime). */
  handlingMs: number[]
  /** Peaks of the parts of the memory, sampled every 50 ms over the process's life. */
  memoryPeaks: MemoryPeaks
}

const memoryPeaks = sampleMemory()

const sqlStatements = countSqlStatements(mysql.Connection)

const started = performance.now()
const app = await buildApp(loadConfig())
let esRequests = 0
for (const client of [app.elasticsearch.source, app.elasticsearch.target]) client.diagnostic.on('request', () => esRequests++)

let handlingMs: number[] = []
app.addHook('onResponse', async (request, reply) => {
  if (request.url === '/mint') handlingMs.push(reply.elapsedTime)
})

const address = await app.listen({ port: 0, host: '127.0.0.1' })
if (app.database.ready) await app.database.ready()

function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

function counters(): ServiceCounters {
  const memory = process.memoryUsage()
  const result = {
    sqlStatements: sqlStatements(),
    esRequests,
    rssBytes: memory.rss,
    // resourceUsage reports kilobytes: the peak of the whole process life.
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: memory.heapUsed,
    cpuMs: cpuMs(),
    handlingMs,
    memoryPeaks: memoryPeaks(),
  }
  handlingMs = []
  return result
}

serve(
  { url: address, startupMs: performance.now() - started, rssBytes: process.memoryUsage.rss() },
  {
    ...profilerHandlers(),
    counters,
    async close() {
      await app.close()
      return counters()
    },
  },
)
