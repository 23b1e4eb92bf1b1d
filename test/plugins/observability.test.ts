import { PassThrough } from 'node:stream'
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { setup } from '../helpers.js'

function capture() {
  const lines: Array<Record<string, unknown>> = []
  const stream = new PassThrough()
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line))
  })
  return { stream, lines }
}

t.test('each request logs one line with its correlation id, jobId, duration and outcome', async (t) => {
  const log = capture()
  const ctx = await setup(t, 'obs-logs', { LOG_LEVEL: 'info' }, { logStream: log.stream })
  const work = makeWork({ value: 'b1' })
  await ctx.seed([work])
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/mint',
    payload: { sourceIdentifiers: [work.id, 'missing'], jobId: 'job-42' },
    headers: { 'x-request-id': 'corr-123' },
  })
  t.equal(response.headers['x-request-id'], 'corr-123')
  const mine = log.lines.filter((line) => line.reqId === 'corr-123')
  t.equal(mine.length, 1, 'one line for the request')
  t.match(mine[0], { msg: 'request completed', jobId: 'job-42', statusCode: 200, method: 'POST', successCount: 1, failureCount: 1 })
  t.type(mine[0]?.durationMs, 'number')

  await ctx.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'bad id with spaces' } })
  const health = log.lines.filter((line) => line.url === '/health')
  t.equal(health.length, 1)
  t.match(health[0]?.reqId, /^[0-9a-f-]{36}$/, 'an unusable x-request-id is replaced by a generated one')
})

t.test('POST /mint emits the spec custom metrics as CloudWatch EMF under metrics_namespace', async (t) => {
  const ctx = await setup(t, 'obs-emf', { EMF_METRICS: 'true', metrics_namespace: 'test-namespace' })
  const work = makeWork({ value: 'b1', nested: 2 })
  await ctx.seed([work])
  const written: string[] = []
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = chunk.toString()
    if (text.includes('"_aws"')) {
      written.push(text)
      return true
    }
    return write(chunk, ...(rest as []))
  }) as typeof process.stdout.write
  try {
    await ctx.app.inject({ method: 'POST', url: '/mint', payload: { sourceIdentifiers: [work.id, 'missing'] } })
  } finally {
    process.stdout.write = write
  }
  t.equal(written.length, 1, 'one EMF document per request')
  const emf = JSON.parse(written[0] as string)
  const directive = emf._aws.CloudWatchMetrics[0]
  t.equal(directive.Namespace, 'test-namespace')
  t.same(directive.Metrics.map((m: { Name: string }) => m.Name).sort(), [
    'id_minter.batch_size',
    'id_minter.failure_count',
    'id_minter.processing_time',
    'id_minter.success_count',
    'id_minter.superseded_count',
  ])
  t.equal(emf['id_minter.superseded_count'], 0, 'copies the index already held newer (none here)')
  t.equal(emf['id_minter.batch_size'], 2)
  t.equal(emf['id_minter.success_count'], 1)
  t.equal(emf['id_minter.failure_count'], 1)
  t.ok(emf['id_minter.processing_time'] > 0)
})

t.test('GET /metrics exposes request and minting metrics for Prometheus', async (t) => {
  const ctx = await setup(t, 'obs-prom')
  const work = makeWork({ value: 'b1' })
  await ctx.seed([work])
  await ctx.app.inject({ method: 'POST', url: '/mint', payload: { sourceIdentifiers: [work.id, 'missing-1', 'missing-2'] } })
  const response = await ctx.app.inject({ method: 'GET', url: '/metrics' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^text\/plain/)
  t.match(response.body, /id_minter_identifiers_total\{outcome="success"\} 1\n/)
  t.match(response.body, /id_minter_identifiers_total\{outcome="failure"\} 2\n/)
  t.match(response.body, /id_minter_batch_size_count 1\n/)
  t.match(response.body, /http_request_duration_seconds_count\{method="POST",route="\/mint",status_code="200"\} 1\n/)
  t.match(response.body, /process_resident_memory_bytes/)
})
