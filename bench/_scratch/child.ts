import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { localEnv } from '../../fixtures/local-env.js'
const t0 = performance.now()
const app = await buildApp(loadConfig({ ...localEnv, LOG_LEVEL: 'silent', IDENTIFIERS_DATABASE: 'bx_scratch' }))
await app.listen({ port: 0, host: '127.0.0.1' })
const t1 = performance.now()
console.log('build+listen ms', (t1 - t0).toFixed(0), 'uptime', (process.uptime()*1000).toFixed(0), 'rss MB', (process.memoryUsage().rss / 1e6).toFixed(1), 'maxRSS MB', (process.resourceUsage().maxRSS / 1024).toFixed(1))
await app.close()
