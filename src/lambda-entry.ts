// The deployed Lambda's handler module: dist/lambda/index.mjs, handler `index.handler`.
//
// scripts/build-lambda.ts bundles src/lambda.ts with every dependency into app.cjs, and writes
// app.cjs.cache beside it: V8's code cache for that file, taken after answering a few events.
// Loading the bundle through vm.Script with that cache skips parsing and compiling what a cold
// start runs, which is most of a cold start's time (see bench/README.md). V8 takes a cache only
// from the same V8 version run with the same V8 flags: the build writes it under the runtime's
// --expose-gc (LAMBDA_CACHE_FLAGS; Node 24's V8 ignores the heap sizes the runtime derives from the
// function's memory, so any memory size takes it). Node's own compile cache
// (module.enableCompileCache) was measured as the simpler alternative and is slower: it caches
// only what is compiled while a module loads, not the functions a first invocation compiles, and
// its directory is keyed by the user id, which differs between the build and the Lambda sandbox.
// V8 checks the source only by its length, so the
// cache file starts with the SHA-256 of the source it was made from, and a cache for other source
// is not offered to V8 at all. A cache refused either way is logged as a warning at start-up, and
// the function compiles as usual: slower to start, nothing else.
import { createHash } from 'node:crypto'
import { readFileSync, realpathSync, writeFileSync } from 'node:fs'
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
/** `node index.mjs --write-code-cache` (paths compared as real paths: Node resolves symlinks in import.meta.url). */
const writing =
  process.argv[2] === '--write-code-cache' && process.argv[1] !== undefined && realpathSync(resolve(process.argv[1])) === realpathSync(fileURLToPath(import.meta.url))

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
let sourceDigest: Buffer | undefined
const module = { exports: {} as AppModule }
const requireFromApp = createRequire(appFile)

if (process.sourceMapsEnabled && !writing) {
  // --enable-source-maps maps stack traces only for files Node's own loaders read.
  module.exports = requireFromApp(appFile) as AppModule
} else {
  // The same wrapper Node's CommonJS loader puts around a module.
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(appFile, 'utf8')}\n})`
  const digest = createHash('sha256').update(source).digest()
  let cachedData: Buffer | undefined
  if (!writing) {
    try {
      const file = readFileSync(cacheFile)
      // A cache made from other source (a bundle changed or patched since) is stale: not offered.
      if (file.subarray(0, digest.length).equals(digest)) cachedData = file.subarray(digest.length)
      else codeCache = 'rejected'
    } catch {
      // No cache shipped: compile as usual.
    }
  }
  script = new Script(source, { filename: appFile, cachedData })
  if (cachedData) codeCache = script.cachedDataRejected ? 'rejected' : 'accepted'
  script.runInThisContext()(module.exports, requireFromApp, module, appFile, dir)
  sourceDigest = digest
}

const app = await module.exports.ready
if (codeCache === 'rejected') {
  app?.log.warn(`${cacheFile} was not used (made from another app.cjs, by another Node.js version, or under other V8 flags: see src/lambda-entry.ts); this cold start compiled the bundle instead`)
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
  const data = Buffer.concat([sourceDigest as Buffer, (script as Script).createCachedData()])
  writeFileSync(cacheFile, data)
  process.stdout.write(`${cacheFile}: ${data.length} bytes\n`)
  process.exit(0)
}
