/**
 * One budget per request, and work cancelled rather than abandoned when it runs out: a request
 * whose database goes silent answers 503 within its budget (MINT_TIMEOUT_MS over HTTP, the
 * invocation's remaining time less LAMBDA_TIMEOUT_MARGIN_MS in Lambda), and afterwards nothing of
 * it runs or commits, and no pool connection stays checked out.
 */
import t, { type Test } from 'tap'
import type { Pool } from 'mysql2/promise'
import { makeWork } from '../../fixtures/works.js'
import type { App } from '../../src/app.js'
import { lambdaEnv, startLambdaHost } from './lambda-host.js'
import { TcpProxy } from './proxy.js'
import { directDatabase, health, isolatedApp, mintInject, rowKey, sleep, workKeys } from './support.js'

async function proxiedApp(t: Test, name: string, overrides: Record<string, string> = {}) {
  const proxy = await TcpProxy.start({ targetPort: 3306, mysql: true })
  t.teardown(() => proxy.close())
  const ctx = await isolatedApp(t, name, { db_port: String(proxy.port), ...overrides })
  await ctx.app.database.ready?.()
  const db = await directDatabase(t, ctx.config.IDENTIFIERS_DATABASE)
  return { ...ctx, proxy, db }
}

/** Connections of the pool taken and not given back (mysql2 keeps no public count: its own lists). */
function checkedOut(pool: Pool): number {
  const inner = (pool as unknown as { pool: { _allConnections: { length: number }; _freeConnections: { length: number } } }).pool
  return inner._allConnections.length - inner._freeConnections.length
}

async function timed<T>(promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await promise
  return { value, ms: performance.now() - started }
}

async function mappedKeys(db: Awaited<ReturnType<typeof directDatabase>>, work: unknown): Promise<number> {
  const keys = new Set(workKeys(work).keys)
  return (await db.mappings()).filter((row) => keys.has(rowKey(row))).length
}

t.test('POST /mint: a COMMIT held in the network past the budget is cancelled: 503 in time, and it never commits', async (t) => {
  const ctx = await proxiedApp(t, 'deadline-commit', { MINT_TIMEOUT_MS: '2000' })
  const w = makeWork({ value: 'bcommit', nested: 3 })
  await ctx.seed([w])
  const held = ctx.proxy.holdNext((command) => command.sql === 'COMMIT', 'request')

  const { value: answer, ms } = await timed(mintInject(ctx.app, { sourceIdentifiers: [w.id] }))
  t.equal(answer.status, 503)
  t.match(answer.body.message, /^Database unavailable: the request's 2000 ms ran out storing identifiers/)
  t.ok(ms < 3500, `answered within the budget (${Math.round(ms)} ms for 2000)`)

  const connection = await held
  await sleep(200)
  t.ok(connection.closed, 'the connection that waited on COMMIT was closed, not returned to the pool')
  connection.release() // the network delivers what it held: on a closed connection, nothing
  await sleep(500)
  t.equal(await mappedKeys(ctx.db, w.work), 0, 'nothing of the request was committed')
  t.equal(checkedOut(ctx.app.database.primaryPool), 0, 'no pool connection is checked out')
  t.same(await ctx.db.orphans(), [], 'no canonical ID registered without its mapping')

  const retry = await mintInject(ctx.app, { sourceIdentifiers: [w.id] })
  t.same(retry, { status: 200, body: { successes: [w.id], failures: [] } }, 'a retry completes the work')
})

t.test('POST /mint: a silent database answers 503 within the budget, then nothing of that request runs on it', async (t) => {
  const ctx = await proxiedApp(t, 'deadline-silent', { MINT_TIMEOUT_MS: '1500' })
  const w = makeWork({ value: 'bsilent', nested: 3 })
  await ctx.seed([w])
  // Warm: a pool connection is open when the network goes silent.
  t.equal((await health(ctx.app)).status, 200)

  ctx.proxy.blackhole()
  const { value: answer, ms } = await timed(mintInject(ctx.app, { sourceIdentifiers: [w.id] }))
  t.equal(answer.status, 503)
  t.ok(ms < 2500, `answered within the budget (${Math.round(ms)} ms for 1500)`)
  const statementsAtAnswer = ctx.proxy.statements.length

  ctx.proxy.restore() // whatever the network held is delivered now, to connections still open
  await sleep(1000)
  const late = ctx.proxy.statements.slice(statementsAtAnswer)
  t.same(late, [], 'no statement of the request reached the server after the answer')
  t.equal(await mappedKeys(ctx.db, w.work), 0, 'nothing was written')
  t.equal(checkedOut(ctx.app.database.primaryPool), 0, 'no pool connection is checked out')

  const retry = await mintInject(ctx.app, { sourceIdentifiers: [w.id] })
  t.equal(retry.status, 200, 'the service recovers by itself')
})

t.test('GET /health against a silent database: the check answers within its 3 s and leaves no connection checked out', async (t) => {
  const ctx = await proxiedApp(t, 'deadline-health')
  t.equal((await health(ctx.app)).status, 200)
  ctx.proxy.blackhole()
  const { value, ms } = await timed(health(ctx.app))
  t.equal(value.status, 503)
  t.equal(value.body.checks.database.status, 'error')
  t.ok(ms < 4000, `within the check's budget (${Math.round(ms)} ms)`)
  ctx.proxy.restore()
  await sleep(300)
  t.equal(checkedOut(ctx.app.database.primaryPool), 0, 'the probe connection was destroyed, not kept')
  t.equal((await health(ctx.app)).status, 200, 'and the next check passes')
})

t.test('Lambda: the budget is the remaining time less the margin, so the handler throws before the platform would stop it', async (t) => {
  const proxy = await TcpProxy.start({ targetPort: 3306, mysql: true })
  t.teardown(() => proxy.close())
  const ctx = await isolatedApp(t, 'deadline-lambda')
  const w = makeWork({ value: 'blambda', nested: 1 })
  await ctx.seed([w])
  const host = await startLambdaHost(lambdaEnv(ctx.config, { db_port: String(proxy.port), LAMBDA_TIMEOUT_MARGIN_MS: '1000' }))
  t.teardown(() => host.close())
  t.equal((await host.invoke({ sourceIdentifiers: [w.id] }, 10_000)).ok, true, 'minted while the database answers')

  proxy.blackhole()
  const { value: outcome, ms } = await timed(host.invoke({ sourceIdentifiers: [w.id] }, 2500))
  t.equal(outcome.ok, false)
  t.equal(outcome.ok ? undefined : outcome.error.name, 'DependencyUnavailableError', 'the name the state machines retry')
  t.match(outcome.ok ? '' : outcome.error.message, /the request's 1\d\d\d ms ran out/)
  t.ok(ms < 2500, `thrown before the invocation's time ran out (${Math.round(ms)} ms of 2500)`)
})

export type { App }
