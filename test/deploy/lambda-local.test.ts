// `npm run lambda:local`: the spec's curl example against the real handler, the way the Runtime
// Interface Emulator answers it, with the dev sample works seeded into this test's own indices.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { Config } from '../../src/config.js'
import { isolatedConfig, prepareStores, type Teardown } from '../helpers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const SPEC_EXAMPLE = { sourceIdentifiers: ['sierra-test-123'], jobId: 'local-test' }

/** Starts scripts/lambda-local.ts on a free port; resolves with its invoke URL once it listens. */
async function startLambdaLocal(t: Teardown, config: Config): Promise<string> {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'scripts/lambda-local.ts'], {
    cwd: root,
    env: {
      ...inherited,
      IDENTIFIERS_DATABASE: config.IDENTIFIERS_DATABASE,
      es_source_index: config.es_source_index,
      es_identified_index: config.es_identified_index,
      db_port: String(config.db_port),
      LOG_LEVEL: 'silent',
      LAMBDA_LOCAL_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  })
  let output = ''
  child.stderr!.on('data', (chunk) => (output += chunk))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lambda-local did not start within 60 s:\n${output}`)), 60_000)
    child.stdout!.on('data', (chunk) => {
      output += chunk
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1]
      if (url) {
        clearTimeout(timer)
        resolve(url.replace('//localhost:', '//127.0.0.1:'))
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`lambda-local exited with ${code}:\n${output}`))
    })
  })
}

const invoke = (url: string, body: string) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(30_000) })

t.test('the spec example, a seeded sample and bad JSON, answered as the emulator does', async (t) => {
  const config = isolatedConfig('lambda-local')
  await prepareStores(t, config)
  const url = await startLambdaLocal(t, config)
  t.match(url, /\/2015-03-31\/functions\/function\/invocations$/)

  const example = await invoke(url, JSON.stringify(SPEC_EXAMPLE))
  t.equal(example.status, 200)
  t.match(example.headers.get('content-type'), /application\/json/)
  t.equal(example.headers.get('x-amz-function-error'), null, 'a partial failure is an answer, not a function error')
  const body = (await example.json()) as any
  t.same(body.successes, [])
  t.equal(body.failures.length, 1)
  t.equal(body.failures[0].sourceIdentifier, 'sierra-test-123')
  t.match(body.failures[0].error, /^Failed to mint ID for sierra-test-123/)
  t.equal(body.jobId, 'local-test')

  const sample = await invoke(url, JSON.stringify({ sourceIdentifiers: ['sierra-123456', 'miro-789012'] }))
  t.equal(sample.status, 200)
  t.same(((await sample.json()) as any).successes, ['sierra-123456', 'miro-789012'], 'the dev samples were seeded into this config’s source index')

  const invalid = await invoke(url, JSON.stringify({ sourceIdentifiers: [] }))
  t.match(await invalid.json(), { successes: [], failures: [{ sourceIdentifier: '', error: /^Invalid input/ }] })

  const notJson = await invoke(url, '{"sourceIdentifiers": [')
  t.equal(notJson.status, 400)
  t.equal(((await notJson.json()) as any).errorType, 'InvalidRequestContentException')

  const elsewhere = await fetch(url.replace('/invocations', '/nothing'), { method: 'POST', body: '{}' })
  t.equal(elsewhere.status, 404)
  await elsewhere.body?.cancel()
})

t.test('a thrown error comes back as 200 with errorType and X-Amz-Function-Error: Unhandled', async (t) => {
  // Nothing listens on port 1, so the database is unavailable and the handler throws.
  const config = isolatedConfig('lambda-local-down', { db_port: '1' })
  await prepareStores(t, config)
  const url = await startLambdaLocal(t, config)
  const response = await invoke(url, JSON.stringify({ sourceIdentifiers: ['sierra-123456'], jobId: 'down' }))
  t.equal(response.status, 200)
  t.equal(response.headers.get('x-amz-function-error'), 'Unhandled')
  const body = (await response.json()) as any
  t.equal(body.errorType, 'DependencyUnavailableError')
  t.type(body.errorMessage, 'string')
  t.ok(Array.isArray(body.trace))
})
