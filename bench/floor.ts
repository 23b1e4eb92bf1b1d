/**
 * THE FLOOR as a child of bench/run.ts (see floor-mint.ts for what it does), driven over IPC
 * (see protocol.ts).
 */
import { closeFloor, floorStats, mint } from './floor-mint.js'
import { runBatches } from './load.js'
import { profilerHandlers, sampleMemory, serve, type MemoryPeaks } from './protocol.js'

export interface FloorCounters {
  sqlStatements: number
  esRequests: number
  rssBytes: number
  maxRssBytes: number
  /** CPU time (user + system) of the process so far. */
  cpuMs: number
  /** Peaks of the parts of the memory, sampled every 50 ms over the process's life. */
  memoryPeaks: MemoryPeaks
}

const memoryPeaks = sampleMemory()

function counters(): FloorCounters {
  const { user, system } = process.cpuUsage()
  return {
    ...floorStats(),
    rssBytes: process.memoryUsage().rss,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    cpuMs: (user + system) / 1000,
    memoryPeaks: memoryPeaks(),
  }
}

serve(
  { rssBytes: process.memoryUsage.rss() },
  {
    ...profilerHandlers(),
    run: ({ batches, concurrency }: { batches: string[][]; concurrency: number }) => runBatches(batches, concurrency, mint),
    counters,
    async close() {
      const result = counters()
      await closeFloor()
      return result
    },
  },
)
