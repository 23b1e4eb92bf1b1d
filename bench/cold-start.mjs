// A Lambda cold start, approximated: a fresh Node process (plain node, no loader) imports the
// bundle given as argv[2] (its top level builds the app, as the runtime's init phase does) and
// answers one direct-invocation event (BENCH_EVENT, JSON). Reports to the parent over IPC;
// times are from performance.timeOrigin, the start of this process.
import { pathToFileURL } from 'node:url'

const bundle = process.argv[2]
const event = JSON.parse(process.env.BENCH_EVENT ?? '{}')
const importStart = performance.now()
const { handler, codeCache } = await import(pathToFileURL(bundle).href)
const importEnd = performance.now()
const result = await handler(event, { awsRequestId: 'bench-cold-start' })
const firstResponse = performance.now()
const report = {
  bootMs: importStart,
  importMs: importEnd - importStart,
  invokeMs: firstResponse - importEnd,
  firstResponseMs: firstResponse,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
  codeCache: codeCache ?? 'absent',
  failures: result?.failures?.length ?? -1,
  successes: result?.successes?.length ?? 0,
}
// The bundle's pools would keep the process alive; a Lambda sandbox is frozen instead.
process.send(report, () => process.exit(0))
