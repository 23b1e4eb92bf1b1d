// The deployed Lambda's handler module: dist/lambda/index.mjs, handler `index.handler`.
//
// scripts/build-lambda.ts bundles src/lambda.ts with every dependency into app.cjs, and writes
// app.cjs.cache beside it: V8's code cache for that file, taken after answering a few events.
// Loading the bundle through vm.Script with that cache skips parsing and compiling what a cold
// start runs, which is most of a cold start's time (see bench/README.md). V8 takes a cache only
// from the same V8 version run with the same V8 flags; the Lambda runtime passes flags that depend
// on the function's memory size, so the build writes the cache under the flags of one memory size
// (`npm run build:lambda -- --memory-size N`). Any other cache is rejected, and the function then
// compiles as usual (slower to start, nothing else) and logs a warning at start-up.
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Script } from 'node:vm'

interface AppModule {
  handler: (event: unknown, context: unknown) => Promise<unknown>
  ready?: Promise<{ log: { warn: (message: string) => void } }>
}

const dir = dirname(fileURLToPath(import.meta.url))
const appFile = join(dir, 'app.cjs')
const cacheFile = `${appFile}.cache`
const writing = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv[2] === '--write-code-cache'

if (writing) {
  // The events below must fail fast without touching anything real: every service is unreachable.
  Object.assign(process.env, {
    cluster_url: '127.0.0.1',
    db_port: '1',
    db_username: 'code-cache',
    db_password: 'code-cache',
    es_upstream_host: '127.0.0.1',
    es_upstream_port: '1',
    es_upstream_protocol: 'http',
    es_source_index: 'code-cache-source',
    es_downstream_host: '127.0.0.1',
    es_downstream_port: '1',
    es_downstream_protocol: 'http',
    es_identified_index: 'code-cache-identified',
    APPLY_MIGRATIONS: 'false',
    LOG_LEVEL: 'silent',
  })
}

/** Whether V8 used the code cache: 'absent' when there is none or source maps are on. */
export let codeCache: 'accepted' | 'rejected' | 'absent' = 'absent'
let script: Script | undefined
const module = { exports: {} as AppModule }
const requireFromApp = createRequire(appFile)

if (process.sourceMapsEnabled && !writing) {
  // --enable-source-maps maps stack traces only for files Node's own loaders read.
  module.exports = requireFromApp(appFile) as AppModule
} else {
  let cachedData: Buffer | undefined
  if (!writing) {
    try {
      cachedData = readFileSync(cacheFile)
    } catch {
      // No cache shipped: compile as usual.
    }
  }
  // The same wrapper Node's CommonJS loader puts around a module.
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(appFile, 'utf8')}\n})`
  script = new Script(source, { filename: appFile, cachedData })
  if (cachedData) codeCache = script.cachedDataRejected ? 'rejected' : 'accepted'
  script.runInThisContext()(module.exports, requireFromApp, module, appFile, dir)
}

const app = await module.exports.ready
if (codeCache === 'rejected') {
  app?.log.warn(`V8 rejected ${cacheFile} (another Node.js version, or other V8 flags: see src/lambda-entry.ts); this cold start compiled the bundle instead`)
}

export const handler = module.exports.handler

if (writing) {
  const context = { awsRequestId: 'code-cache' }
  const events = [
    { sourceIdentifiers: [] }, // invalid input
    { sourceIdentifiers: ['code-cache-1'], jobId: 'code-cache' }, // a mint, as far as the unreachable source index
    { version: '2.0', rawPath: '/health', rawQueryString: '', headers: {}, requestContext: { http: { method: 'GET' } }, isBase64Encoded: false },
  ]
  for (const event of events) await handler(event, context).catch(() => {})
  const data = (script as Script).createCachedData()
  writeFileSync(cacheFile, data)
  process.stdout.write(`${cacheFile}: ${data.length} bytes\n`)
  process.exit(0)
}
