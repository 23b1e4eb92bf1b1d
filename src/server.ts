import closeWithGrace from 'close-with-grace'
import { buildApp, type App } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { consumerStopMs } from './plugins/queue.js'

// A configuration error (a variable missing or malformed, here or in a plugin's own check at
// start-up) stops the process with one line naming it, never a stack trace.
let app: App
let config
try {
  config = loadConfig()
  app = await buildApp(config)
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  process.stderr.write(`${error.message}\n`)
  process.exit(1)
}

// On SIGTERM/SIGINT: stop accepting, let requests (and the queue consumer's batch) in flight
// finish, then close the pools. The grace outlasts the longest of them: a request's whole budget
// plus 5 s to answer, or the consumer's stop (plugins/queue.ts). An orchestrator's own stop timeout
// must be longer still (ECS: stopTimeout; Kubernetes: terminationGracePeriodSeconds).
const graceMs = Math.max(config.MINT_TIMEOUT_MS + 5_000, config.REPROCESS_TIMEOUT_MS + 5_000, config.queue_url ? consumerStopMs(config) : 0)
closeWithGrace({ delay: graceMs }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an uncaught error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

await app.listen({ port: config.PORT, host: config.HOST })
