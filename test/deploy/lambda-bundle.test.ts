// The Lambda artifact as it is uploaded: `npm run build:lambda`'s zip, unpacked where no
// node_modules can be found, imported by a plain `node` (no TypeScript loader) with the
// environment a deployment sets, and invoked with the events Step Functions and API Gateway send.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Config } from '../../src/config.js'
import { seedSourceWorks } from '../../fixtures/indices.js'
import { makeWork } from '../../fixtures/works.js'
import { buildLambda, writeZip, type BuildLambdaResult } from '../../scripts/build-lambda.js'
import { adminConnection, cleanNode, isolatedConfig, prepareStores } from '../helpers.js'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const hasUnzip = spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status === 0

/** The configuration as the environment variables a deployment sets. */
function toEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(config)) if (value !== undefined) env[name] = String(value)
  return env
}

const httpApiEvent = (method: string, path: string, body?: unknown) => ({
  version: '2.0',
  routeKey: '$default',
  rawPath: path,
  rawQueryString: '',
  headers: { host: 'abc123.execute-api.eu-west-1.amazonaws.com', ...(body ? { 'content-type': 'application/json' } : {}) },
  requestContext: {
    accountId: '123456789012',
    apiId: 'abc123',
    domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
    domainPrefix: 'abc123',
    http: { method, path, protocol: 'HTTP/1.1', sourceIp: '198.51.100.1', userAgent: 'tap' },
    requestId: 'request-1',
    routeKey: '$default',
    stage: '$default',
    time: '25/Nov/2026:10:00:00 +0000',
    timeEpoch: 1795600000000,
  },
  ...(body ? { body: JSON.stringify(body) } : {}),
  isBase64Encoded: false,
})

// Runs in the child: imports the bundle, invokes the handler with each event in turn, prints one
// JSON line (a failed import as @@FAILED and its message: Node would print the minified source line
// of the throw, hundreds of KB). It exits once the line is written: a pipe write can still be in
// flight when process.exit runs.
const INVOKER = `
const report = (tag, value) => process.stdout.write('\\n' + tag + ' ' + JSON.stringify(value) + '\\n', () => process.exit(0))
const started = performance.now()
if (process.env.FAKE_TTY) process.stdout.isTTY = true
let bundle
try {
  bundle = await import(process.env.BUNDLE_URL)
} catch (error) {
  report('@@FAILED', { name: error.name, message: error.message })
}
if (bundle) {
  const { handler, codeCache } = bundle
  const imported = performance.now()
  const context = { awsRequestId: 'test-request', functionName: 'id-minter-stepfunction', getRemainingTimeInMillis: () => 30000 }
  const results = []
  let firstAnswered
  let builtinsAtFirst
  for (const event of JSON.parse(process.env.EVENTS)) {
    try {
      results.push({ value: await handler(event, context) })
    } catch (error) {
      results.push({ error: { name: error.name, message: error.message } })
    }
    if (firstAnswered === undefined) {
      firstAnswered = performance.now()
      builtinsAtFirst = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length))
    }
  }
  report('@@RESULT', { importMs: imported - started, firstMs: firstAnswered - started, builtinsAtFirst, codeCache, results })
}
`

interface InvokeOutcome {
  importMs: number
  /** src/lambda-entry.ts's account of the V8 code cache. */
  codeCache?: 'accepted' | 'rejected' | 'absent'
  firstMs: number
  /** Node's built-in modules loaded once the first event was answered. */
  builtinsAtFirst: string[]
  results: Array<{ value?: any; error?: { name: string; message: string } }>
  stdout: string
}

/**
 * The flags the nodejs24.x runtime's bootstrap gives node: --expose-gc, and heap sizes from the
 * function's memory (a tenth young generation, half of it per semi-space; the rest old).
 */
const runtimeFlags = (memorySizeMb: number) => [
  '--expose-gc',
  '--max-http-header-size',
  '81920',
  `--max-semi-space-size=${Math.floor(memorySizeMb / 20)}`,
  `--max-old-space-size=${memorySizeMb - Math.floor(memorySizeMb / 10)}`,
]
const LAMBDA_FLAGS = runtimeFlags(1024)

/**
 * A node started as the Lambda runtime starts it (its V8 flags, unless nodeArgs says otherwise),
 * nothing inherited that Lambda would not have (no NODE_OPTIONS, no MIGRATIONS_FOLDER).
 */
function invokeBundle(
  bundle: string,
  env: Record<string, string>,
  events: unknown[],
  extra: Record<string, string> = {},
  nodeArgs: string[] = LAMBDA_FLAGS,
): Promise<InvokeOutcome> {
  return new Promise((resolvePromise, reject) => {
    const environment = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      AWS_REGION: 'eu-west-1',
      ...env,
      BUNDLE_URL: new URL(`file://${bundle}`).href,
      EVENTS: JSON.stringify(events),
      ...extra,
    }
    const [command, args] = cleanNode(environment, [...nodeArgs, '--input-type=module', '-e', INVOKER])
    const child = spawn(command, args, {
      cwd: tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const failed = stdout.split('\n').find((l) => l.startsWith('@@FAILED '))
      if (failed) return reject(new Error(`the bundle failed to load: ${JSON.parse(failed.slice('@@FAILED '.length)).message}`))
      const line = stdout.split('\n').find((l) => l.startsWith('@@RESULT '))
      if (code !== 0 || !line) return reject(new Error(`bundle exited ${code ?? signal}\n${stderr}\n${stdout}`))
      resolvePromise({ ...JSON.parse(line.slice('@@RESULT '.length)), stdout })
    })
  })
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort()
}

// The build goes under test-artifacts/ (git-ignored, inside the repository, so node_modules is
// within reach: the case where a bundle must not pick up development packages) and the zip is
// unpacked under the system temp directory (no node_modules anywhere above: the case of Lambda).
const work = join(root, 'test-artifacts', `lambda-bundle-${process.pid}`)
const unpacked = mkdtempSync(join(tmpdir(), 'id-minter-lambda-'))
t.teardown(() => {
  rmSync(work, { recursive: true, force: true })
  rmSync(unpacked, { recursive: true, force: true })
})
mkdirSync(work, { recursive: true })

let built: BuildLambdaResult
t.before(async () => {
  built = await buildLambda({ outDir: join(work, 'lambda'), zipFile: join(work, 'id-minter-lambda.zip') })
  if (hasUnzip) {
    const result = spawnSync('unzip', ['-q', built.zipFile!, '-d', unpacked])
    if (result.status !== 0) throw new Error(`unzip failed: ${result.stderr}`)
  } else {
    // Without unzip the directory that was zipped stands in for the unpacked archive.
    rmSync(unpacked, { recursive: true, force: true })
    mkdirSync(unpacked)
    for (const file of filesUnder(built.outDir)) {
      mkdirSync(join(unpacked, file, '..'), { recursive: true })
      spawnSync('cp', [join(built.outDir, file), join(unpacked, file)])
    }
  }
})

t.test('the zip has index.mjs at its root, the migrations and the Swagger UI files, and no node_modules', async (t) => {
  const files = filesUnder(unpacked)
  t.ok(files.includes('index.mjs'), 'handler index.handler resolves to index.mjs')
  t.ok(files.includes('app.cjs'), 'the bundle it loads')
  t.ok(files.includes('app.cjs.cache'), "and the bundle's V8 code cache")
  t.ok(files.includes('migrations/meta/_journal.json'))
  t.same(
    files.filter((f) => f.startsWith('migrations/')),
    filesUnder(join(root, 'migrations')).map((f) => `migrations/${f}`),
    'every migration ships',
  )
  t.ok(files.includes('swagger-ui/static/index.html'))
  t.notOk(files.some((f) => f.includes('node_modules')), 'everything is inside the bundle')
  t.ok(built.zipBytes! < 50 * 1024 * 1024, `zip (${built.zipBytes} bytes) is under Lambda's 50 MB direct-upload limit`)
  t.ok(directorySize(unpacked) < 250 * 1024 * 1024, 'unzipped size is under the 250 MB limit')
  t.comment(`bundle ${(built.bundleBytes / 1024 / 1024).toFixed(2)} MiB, zip ${(built.zipBytes! / 1024 / 1024).toFixed(2)} MiB`)
})

function directorySize(dir: string): number {
  return filesUnder(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0)
}

t.test('writeZip makes an archive unzip accepts, with the same files', { skip: hasUnzip ? false : 'unzip is not installed' }, async (t) => {
  const zipFile = join(work, 'node-writer.zip')
  await writeZip(built.outDir, zipFile)
  const check = spawnSync('unzip', ['-tq', zipFile], { encoding: 'utf8' })
  t.equal(check.status, 0, check.stdout + check.stderr)
  const listed = spawnSync('unzip', ['-Z1', zipFile], { encoding: 'utf8' }).stdout.trim().split('\n').sort()
  t.same(listed, filesUnder(built.outDir))
  const into = join(work, 'node-writer')
  t.equal(spawnSync('unzip', ['-q', zipFile, '-d', into]).status, 0)
  t.equal(statSync(join(into, 'app.cjs')).size, built.bundleBytes, 'contents round-trip')
  t.equal(statSync(join(into, 'app.cjs')).mode & 0o444, 0o444, 'files are readable by the Lambda runtime user')
})

t.test('the unpacked bundle answers Step Functions and API Gateway events against its own stores', async (t) => {
  const config = isolatedConfig('lambda-bundle')
  const es = await prepareStores(t, config)
  const work = makeWork({ id: 'sierra-bundle-1', value: 'b9000001', nested: 2, title: 'A bundled work' })
  await seedSourceWorks(es, config.es_source_index, [work])

  const outcome = await invokeBundle(join(unpacked, 'index.mjs'), { ...toEnv(config), AWS_LAMBDA_FUNCTION_NAME: 'id-minter-stepfunction' }, [
    { sourceIdentifiers: ['sierra-bundle-1', 'calm-missing-1'], jobId: 'bundle-job' },
    httpApiEvent('GET', '/health'),
    { sourceIdentifiers: [] },
    httpApiEvent('POST', '/mint', { sourceIdentifiers: ['sierra-bundle-1'] }),
    httpApiEvent('GET', '/documentation/'),
    httpApiEvent('GET', '/documentation/static/swagger-ui.css'),
    httpApiEvent('GET', '/documentation/json'),
  ])
  t.comment(`cold start: import ${outcome.importMs.toFixed(0)} ms, first event answered ${outcome.firstMs.toFixed(0)} ms after spawn of the import`)
  const [direct, health, invalid, viaHttp, docs, css, openapi] = outcome.results.map((r) => r.value)
  t.equal(outcome.codeCache, 'accepted', "V8 takes the code cache under the runtime's flags for the memory size it was built for")
  // The AWS SDK (src/services/sqs.ts) loads only when SQS is configured; when it loads, its HTTP/2
  // handler requires node:http2, which nothing else on this path does (Fastify's is lazy: LAZY_BUILTINS).
  t.notOk(outcome.builtinsAtFirst.includes('http2'), 'a Step Functions cold start loads neither the AWS SDK nor node:http2')

  t.same(direct.successes, ['sierra-bundle-1'], 'the work is minted (migrations applied from the bundled folder)')
  t.equal(direct.failures.length, 1)
  t.equal(direct.failures[0].sourceIdentifier, 'calm-missing-1')
  t.match(direct.failures[0].error, /^Failed to mint ID for calm-missing-1/)
  t.equal(direct.jobId, 'bundle-job')

  t.equal(health.statusCode, 200, 'GET /health through an HTTP API v2 event')
  t.equal(JSON.parse(health.body).status, 'ok')

  t.same(invalid.successes, [])
  t.match(invalid.failures[0], { sourceIdentifier: '', error: /^Invalid input: / }, 'bad input is answered, not thrown')

  t.equal(viaHttp.statusCode, 200)
  t.same(JSON.parse(viaHttp.body).successes, ['sierra-bundle-1'], 'minting again through HTTP gives the same answer')

  t.equal(docs.statusCode, 200, 'Swagger UI page')
  t.match(docs.headers['content-type'], /text\/html/)
  t.equal(css.statusCode, 200, 'Swagger UI assets are served from the bundle directory')
  t.match(css.headers['content-type'], /text\/css/)
  t.equal(openapi.statusCode, 200)
  t.ok(JSON.parse(openapi.body).paths['/mint'], 'OpenAPI document')

  // What was written is where the rest of the pipeline looks for it.
  const admin = await adminConnection()
  t.teardown(() => admin.end())
  const [rows] = await admin.query(
    `SELECT CanonicalId FROM \`${config.IDENTIFIERS_DATABASE}\`.identifiers WHERE CAST(SourceId AS CHAR) = ? AND CAST(OntologyType AS CHAR) = 'Work'`,
    ['b9000001'],
  )
  const canonicalId = (rows as Array<{ CanonicalId: string }>)[0]?.CanonicalId
  t.ok(canonicalId, 'the work has a canonical ID in the database')
  await es.indices.refresh({ index: config.es_identified_index })
  const indexed = await es.get({ index: config.es_identified_index, id: canonicalId! }, { ignore: [404] })
  t.ok(indexed.found, 'the identified work is indexed under its canonical ID')
})

t.test('an unreachable database makes the handler throw DependencyUnavailableError, the name the state machines retry on', async (t) => {
  const config = isolatedConfig('lambda-bundle-down', { db_port: '1' })
  const es = await prepareStores(t, config)
  await seedSourceWorks(es, config.es_source_index, [makeWork({ id: 'sierra-bundle-2', value: 'b9000002' })])
  const outcome = await invokeBundle(join(unpacked, 'index.mjs'), { ...toEnv(config), AWS_LAMBDA_FUNCTION_NAME: 'id-minter-stepfunction' }, [
    { sourceIdentifiers: ['sierra-bundle-2'], jobId: 'down' },
    httpApiEvent('GET', '/health'),
  ])
  const [mint, health] = outcome.results
  t.equal(mint!.error?.name, 'DependencyUnavailableError')
  t.equal(health!.value.statusCode, 503, 'and /health says so')
})

t.test('run inside the repository on a terminal, the bundle logs JSON instead of loading pino-pretty', async (t) => {
  // node_modules/pino-pretty is reachable from test-artifacts/; a bundle that tried to use it
  // would fail at start-up (its worker thread cannot be found inside a single file).
  const config = isolatedConfig('lambda-bundle-tty', { LOG_LEVEL: 'info' })
  await prepareStores(t, config)
  const outcome = await invokeBundle(built.entryFile, toEnv(config), [httpApiEvent('GET', '/health')], { FAKE_TTY: '1' })
  t.equal(outcome.results[0]!.value.statusCode, 200)
  const logLines = outcome.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('@@RESULT '))
  t.ok(logLines.length > 0, 'something was logged')
  for (const line of logLines) t.doesNotThrow(() => JSON.parse(line), `JSON log line: ${line.slice(0, 80)}`)
})

t.test('one cache serves every memory size; without the runtime\'s --expose-gc it is refused with a warning and the function still answers', async (t) => {
  const config = isolatedConfig('lambda-bundle-other-flags', { LOG_LEVEL: 'warn' })
  const es = await prepareStores(t, config)
  await seedSourceWorks(es, config.es_source_index, [makeWork({ id: 'sierra-bundle-4', value: 'b9000004' })])
  const env = { ...toEnv(config), AWS_LAMBDA_FUNCTION_NAME: 'id-minter-stepfunction' }
  const events = [{ sourceIdentifiers: ['sierra-bundle-4'] }]
  for (const memorySizeMb of [128, 512, 3008, 10240]) {
    const outcome = await invokeBundle(join(unpacked, 'index.mjs'), env, events, {}, runtimeFlags(memorySizeMb))
    t.equal(outcome.codeCache, 'accepted', `a ${memorySizeMb} MB function takes the cache`)
  }
  const otherFlags = await invokeBundle(join(unpacked, 'index.mjs'), env, events, {}, LAMBDA_FLAGS.filter((flag) => flag !== '--expose-gc'))
  t.equal(otherFlags.codeCache, 'rejected')
  t.same(otherFlags.results[0]!.value.successes, ['sierra-bundle-4'], 'the event is answered all the same')
  const warning = otherFlags.stdout.split('\n').find((l) => l.includes('app.cjs.cache'))
  t.ok(warning, 'the rejection is logged')
  t.equal(JSON.parse(warning ?? '{}').level, 40, 'as a warning')

  const sourceMaps = await invokeBundle(join(unpacked, 'index.mjs'), env, events, {}, [...LAMBDA_FLAGS, '--enable-source-maps'])
  t.equal(sourceMaps.codeCache, 'absent', "with source maps on, the bundle is loaded by Node's own loader")
  t.same(sourceMaps.results[0]!.value.successes, ['sierra-bundle-4'])
})

t.test('a cache made from other source is not used: a bundle patched in place runs its own code', async (t) => {
  // V8 compares a cache with the source by length only: a same-length edit would run the old code.
  const patched = join(work, 'patched')
  cpSync(unpacked, patched, { recursive: true })
  const app = join(patched, 'app.cjs')
  const source = readFileSync(app, 'utf8')
  t.ok(source.includes('Invalid input: '))
  writeFileSync(app, source.replace('Invalid input: ', 'INVALID input: '))
  t.equal(statSync(app).size, built.bundleBytes, 'same length')
  const config = isolatedConfig('lambda-bundle-patched')
  await prepareStores(t, config)
  const env = { ...toEnv(config), AWS_LAMBDA_FUNCTION_NAME: 'id-minter-stepfunction' }
  const stale = await invokeBundle(join(patched, 'index.mjs'), env, [{ sourceIdentifiers: [] }])
  t.equal(stale.codeCache, 'rejected')
  t.match(stale.results[0]!.value.failures[0].error, /^INVALID input: /, 'the patched code is what runs')

  // Rewritten through a path with a symlink in it (as a build into a linked folder would): the
  // entry still knows it was asked to write, and the new cache is taken.
  const linked = join(work, 'linked')
  symlinkSync(patched, linked, 'dir')
  const [command, args] = cleanNode({ PATH: process.env.PATH ?? '' }, [...LAMBDA_FLAGS, join(linked, 'index.mjs'), '--write-code-cache'])
  const rewrite = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 })
  t.equal(rewrite.status, 0, `${rewrite.stdout}${rewrite.stderr}`)
  const fresh = await invokeBundle(join(patched, 'index.mjs'), env, [{ sourceIdentifiers: [] }])
  t.equal(fresh.codeCache, 'accepted')
  t.match(fresh.results[0]!.value.failures[0].error, /^INVALID input: /)
})

t.test('MIGRATIONS_FOLDER set by the deployment wins over the bundled folder', async (t) => {
  const config = isolatedConfig('lambda-bundle-migrations')
  const es = await prepareStores(t, config)
  await seedSourceWorks(es, config.es_source_index, [makeWork({ id: 'sierra-bundle-3', value: 'b9000003' })])
  // A deployment that points at a folder without migrations is a configuration error: the
  // container fails to start, rather than answering a retryable error on every invocation.
  await t.rejects(
    invokeBundle(
      join(unpacked, 'index.mjs'),
      { ...toEnv(config), AWS_LAMBDA_FUNCTION_NAME: 'id-minter-stepfunction', MIGRATIONS_FOLDER: join(unpacked, 'no-such-folder') },
      [{ sourceIdentifiers: ['sierra-bundle-3'] }],
    ),
    /APPLY_MIGRATIONS is set but .*no-such-folder holds no migrations/,
    'the configured folder is the one used, and its absence stops the start',
  )
  t.ok(existsSync(join(unpacked, 'migrations')), 'while the bundled one is there')
})
