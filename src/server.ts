import closeWithGrace from 'close-with-grace'
import { buildApp, type App } from './app.js'
import { ConfigError, loadConfig } from './config.js'

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

// On SIGTERM/SIGINT: stop accepting, let requests in flight finish, then close the pools.
closeWithGrace({ delay: 25_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an uncaught error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

await app.listen({ port: config.PORT, host: config.HOST })
