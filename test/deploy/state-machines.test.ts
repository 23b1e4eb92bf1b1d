// Every state machine in infra/state-machines, run in an ASL interpreter (aws-local-stepfunctions)
// with its Task states invoking the real Lambda handler (src/lambda.ts in a child process, one per
// "container") against the real MariaDB and Elasticsearch. What each run asserts comes from the
// works the test seeded and the failures it caused, not from the definitions.
import t from 'tap'
import { ExecutionError } from 'aws-local-stepfunctions'
import { seedSourceWorks } from '../../fixtures/indices.js'
import { makeWork } from '../../fixtures/works.js'
import { isolatedConfig, prepareStores, type Teardown } from '../helpers.js'
import { lambdaEnv, startLambdaHost, type LambdaHost } from '../reliability/lambda-host.js'
import { TcpProxy } from '../reliability/proxy.js'
import { machineFiles, runMachine, viaLambda, type Json } from './asl.js'

const config = isolatedConfig('state-machines')
const works = Array.from({ length: 250 }, (_, i) => makeWork({ value: `b${7000000 + i}`, nested: 1 }))
const ids = works.map((w) => w.id)

let container: LambdaHost
t.before(async () => {
  const es = await prepareStores(t, config)
  await seedSourceWorks(es, config.es_source_index, works)
  container = await startLambdaHost(lambdaEnv(config))
  t.teardown(() => container.close())
})

/** A container whose database connections go through a proxy the test can cut. */
async function proxiedContainer(t: Teardown): Promise<{ host: LambdaHost; proxy: TcpProxy }> {
  const proxy = await TcpProxy.start({ targetPort: 3306, mysql: true })
  t.teardown(() => proxy.close())
  const host = await startLambdaHost(lambdaEnv(config, { db_port: String(proxy.port) }))
  t.teardown(() => host.close())
  return { host, proxy }
}

const sorted = (values: string[]) => [...values].sort()

t.test('every definition in infra/ is run here', async (t) => {
  // The reprocess machines run in test/deploy/reprocess-machines.test.ts.
  t.same(machineFiles, ['batch-map.asl.json', 'mint-workflow.asl.json', 'reprocess-full.asl.json', 'reprocess-window.asl.json', 'retry-catch.asl.json'])
})

t.test('mint-workflow: the happy path and the Choice that routes partial failures', async (t) => {
  const all = await runMachine('mint-workflow.asl.json', { sourceIdentifiers: ids.slice(0, 3), jobId: 'sfn-happy' }, () => viaLambda(container))
  t.equal(all.outcome, 'All identifiers minted successfully')
  t.same(all.mintingResult, { successes: ids.slice(0, 3), failures: [], jobId: 'sfn-happy' })
  t.same(all.sourceIdentifiers, ids.slice(0, 3), 'the input is kept beside the result')

  const partly = await runMachine('mint-workflow.asl.json', { sourceIdentifiers: [ids[3], 'calm-missing'] }, () => viaLambda(container))
  t.equal(partly.outcome, 'Some identifiers failed to mint')
  t.same(partly.mintingResult.successes, [ids[3]])
  t.match(partly.mintingResult.failures, [{ sourceIdentifier: 'calm-missing', error: /not found/ }])
})

t.test('retry-catch: a database cut through the proxy is retried on DependencyUnavailableError until it comes back', async (t) => {
  const { host, proxy } = await proxiedContainer(t)
  proxy.cut()
  const calls: Array<{ input: Json; error?: string }> = []
  const invoke = viaLambda(host, calls)
  const result = await runMachine('retry-catch.asl.json', { sourceIdentifiers: [ids[4]] }, () => async (input) => {
    try {
      return await invoke(input)
    } finally {
      if (calls.length === 2) proxy.restore() // back after the second failed attempt
    }
  })
  t.same(calls.map((c) => c.error), ['DependencyUnavailableError', 'DependencyUnavailableError', undefined])
  t.equal(result.outcome, 'All identifiers minted successfully')
  t.same(result.mintingResult.successes, [ids[4]])
})

t.test('retry-catch: a database that stays away is caught after the retries and fails the execution by name', async (t) => {
  const { host, proxy } = await proxiedContainer(t)
  proxy.cut()
  const calls: Array<{ input: Json; error?: string }> = []
  const error = await runMachine('retry-catch.asl.json', { sourceIdentifiers: [ids[5]] }, () => viaLambda(host, calls)).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(error instanceof ExecutionError, 'the execution fails')
  t.equal(((error as ExecutionError).cause as Error | undefined)?.name, 'DependencyUnavailableError', 'through the DependencyStillUnavailable Fail state')
  t.equal(calls.length, 6, 'the first attempt and 5 retries')
  t.ok(calls.every((c) => c.error === 'DependencyUnavailableError'))
})

t.test('batch-map: every batch minted (a wildcard over empty failures must not stop it)', async (t) => {
  const result = await runMachine('batch-map.asl.json', { sourceIdentifiers: ids }, () => viaLambda(container), 'exec-all')
  t.equal(result.outcome, 'All identifiers minted successfully')
  t.same(sorted(result.successes), sorted(ids), 'all 250, over 3 batches')
  t.same(result.failures, [])
  t.equal(result.jobId, 'exec-all')
})

t.test('batch-map: a batch with failing works, and one failing as a whole after its retries', async (t) => {
  const { host: broken, proxy } = await proxiedContainer(t)
  proxy.cut()
  const calls: Array<{ input: Json; error?: string }> = []
  const input = { sourceIdentifiers: [...ids.slice(0, 150), 'calm-missing-1', ...ids.slice(150, 249), 'calm-missing-2'] }
  // Batch 1 (identifiers 100-199) lands on a container whose database is unreachable.
  const result = await runMachine(
    'batch-map.asl.json',
    input,
    () => (batch) => viaLambda(String(batch.jobId).endsWith('-batch-1') ? broken : container, calls)(batch),
    'exec-mixed',
  )
  const batch1 = input.sourceIdentifiers.slice(100, 200)
  t.equal(result.outcome, 'Some identifiers failed to mint')
  t.equal(calls.filter((c) => c.input.jobId === 'exec-mixed-batch-1').length, 5, 'batch 1: the first attempt and 4 retries')
  const failed = new Map<string, string>(result.failures.map((f: { sourceIdentifier: string; error: string }) => [f.sourceIdentifier, f.error]))
  t.same(sorted([...failed.keys()]), sorted([...batch1, 'calm-missing-2']), 'batch 1 whole, and the missing work of batch 2')
  t.match(failed.get(batch1[0]!), new RegExp(`^Failed to mint ID for ${batch1[0]!.replace(/[[\]/]/g, '\\$&')}: the batch failed: DependencyUnavailableError: `))
  t.match(failed.get('calm-missing-2'), /not found/)
  t.same(sorted(result.successes), sorted(input.sourceIdentifiers.filter((id) => !failed.has(id))))
})

t.test('batch-map: every batch failing as a whole, and an empty request', async (t) => {
  const { host: broken, proxy } = await proxiedContainer(t)
  proxy.cut()
  const result = await runMachine('batch-map.asl.json', { sourceIdentifiers: ids.slice(0, 120) }, () => viaLambda(broken))
  t.equal(result.outcome, 'Every identifier failed to mint')
  t.same(result.successes, [])
  t.same(sorted(result.failures.map((f: { sourceIdentifier: string }) => f.sourceIdentifier)), sorted(ids.slice(0, 120)))

  const empty = await runMachine('batch-map.asl.json', { sourceIdentifiers: [] }, () => viaLambda(container), 'exec-empty')
  t.same(empty, { jobId: 'exec-empty', successes: [], failures: [], outcome: 'No identifiers to mint' })
})
