/**
 * Database faults, injected through a proxy and from an admin connection, never by disturbing the
 * shared MariaDB: a connection KILLed at each point of the mint transaction (and while a statement
 * waits on a lock), the database down at start-up, cut during operation, and silent.
 * The promise under test: the request fails whole with a 503, nothing half-written remains, the
 * service recovers by itself, and a retry gets consistent canonical IDs.
 */
import t, { type Test } from 'tap'
import { keyOf } from '../../src/services/identifier-store/keys.js'
import { makeWork } from '../../fixtures/works.js'
import { TcpProxy, type HoldKind, type MysqlCommand } from './proxy.js'
import { directDatabase, embeddedIdProblems, eventually, health, indexedDocument, isolatedApp, mintInject, rowKey, sleep, within, workKeys } from './support.js'

const shared: [string, string, string, string] = ['Person', 'lc-names', 'n-shared', 'A shared person']

/** An app whose every database connection goes through a fresh proxy; migrations applied. */
async function proxiedApp(t: Test, name: string) {
  const proxy = await TcpProxy.start({ targetPort: 3306, mysql: true })
  const ctx = await isolatedApp(t, name, { db_port: String(proxy.port) })
  t.teardown(() => proxy.close())
  await ctx.app.database.ready?.()
  const db = await directDatabase(t, ctx.config.IDENTIFIERS_DATABASE)
  return { ...ctx, proxy, db }
}

type Ctx = Awaited<ReturnType<typeof proxiedApp>>

/** The rows (keyOf -> canonical ID) the database holds for a work's identifiers. */
async function rowsFor(ctx: Ctx, work: unknown): Promise<Map<string, string>> {
  const keys = new Set(workKeys(work).keys)
  return new Map((await ctx.db.mappings()).filter((r) => keys.has(rowKey(r))).map((r) => [rowKey(r), r.CanonicalId]))
}

/** After a fault: the 503 and a clean database; then the retry: 200 and an indexed work that agrees. */
async function expectFailedThenRecovered(
  t: Test,
  ctx: Ctx,
  w: { id: string; work: Record<string, unknown> },
  answer: { status: number; body: Record<string, unknown> },
  committed: boolean,
) {
  const keys = workKeys(w.work).keys
  t.equal(answer.status, 503, 'the request fails whole with 503')
  t.match(answer.body, { statusCode: 503, error: 'Service Unavailable', message: /^Database unavailable/ }, 'the answer says the database is the problem')
  const before = await rowsFor(ctx, w.work)
  const newKeys = keys.filter((k) => k !== keyOf({ ontologyType: 'Concept', sourceSystem: 'lc-names', sourceId: 'n-shared' }))
  const present = newKeys.filter((k) => before.has(k)).length
  t.equal(present, committed ? newKeys.length : 0, committed ? 'the committed mint is whole' : 'nothing of the interrupted mint was written')
  t.same(await ctx.db.orphans(), [], 'no canonical ID left registered but unmapped')

  const retry = await within(mintInject(ctx.app, { sourceIdentifiers: [w.id] }), 20_000, 'retry')
  t.same(retry, { status: 200, body: { successes: [w.id], failures: [] } }, 'the retry succeeds')
  const after = await rowsFor(ctx, w.work)
  t.equal(after.size, keys.length, 'every identifier of the work is mapped after the retry')
  if (committed) t.same([...after.entries()].filter(([k]) => before.has(k)), [...before.entries()], 'the retry kept the IDs the lost commit had written')
  const mapping = new Map((await ctx.db.mappings()).map((r) => [rowKey(r), r.CanonicalId]))
  const indexed = await indexedDocument(ctx.es, ctx.config.es_identified_index, after.get(workKeys(w.work).root) as string)
  t.ok(indexed, 'the work is indexed under its canonical ID')
  t.same(embeddedIdProblems(indexed, mapping), [], 'the indexed work carries the IDs the database holds')
  t.same(await ctx.db.orphans(), [], 'still no orphans')
  t.same(await ctx.db.unassigned(), [], "every mapped ID is 'assigned'")
}

t.test('a connection KILLed at each point of the mint transaction', async (t) => {
  const ctx = await proxiedApp(t, 'kill-points')
  // A first work makes the shared concept known, so each faulted mint mixes known and new keys.
  const base = makeWork({ value: 'bkbase', nested: 3, sharedConcepts: [shared] })
  await ctx.seed([base])
  t.equal((await mintInject(ctx.app, { sourceIdentifiers: [base.id] })).status, 200)

  const points: Array<{ name: string; match: (c: MysqlCommand) => boolean; kind: HoldKind; committed: boolean }> = [
    { name: 'before BEGIN reaches the server', match: (c) => /^begin$/i.test(c.sql ?? ''), kind: 'request', committed: false },
    { name: 'after BEGIN, before canonical_ids are inserted', match: (c) => /^insert into `canonical_ids`/i.test(c.sql ?? ''), kind: 'request', committed: false },
    { name: 'after canonical_ids, before identifiers are inserted', match: (c) => /^insert into `identifiers`/i.test(c.sql ?? ''), kind: 'request', committed: false },
    { name: 'after every insert, before COMMIT reaches the server', match: (c) => /^commit$/i.test(c.sql ?? ''), kind: 'request', committed: false },
    { name: 'after COMMIT is applied, before its OK reaches the app', match: (c) => /^commit$/i.test(c.sql ?? ''), kind: 'reply', committed: true },
  ]
  let faults = 0
  for (const [i, point] of points.entries()) {
    await t.test(`KILL ${point.name}`, async (t) => {
      const w = makeWork({ value: `bkill${i}`, nested: 6, sharedConcepts: [shared] })
      await ctx.seed([w])
      const held = ctx.proxy.holdNext(point.match, point.kind)
      const answer = mintInject(ctx.app, { sourceIdentifiers: [w.id] })
      const connection = await within(held, 10_000, 'the mint reaching the point')
      // The app's session, as an operator would find it: by the test's database in the processlist.
      const sessions = await ctx.db.sql<{ ID: number }>('SELECT ID FROM information_schema.processlist WHERE DB = ? AND ID = ?', [
        ctx.config.IDENTIFIERS_DATABASE,
        connection.threadId,
      ])
      t.equal(sessions.length, 1, `the held session ${connection.threadId} is the app's, on the test database`)
      await ctx.db.sql(`KILL ${Number(connection.threadId)}`)
      faults++
      await expectFailedThenRecovered(t, ctx, w, await within(answer, 15_000, 'the faulted mint'), point.committed)
    })
  }

  for (const mode of ['KILL QUERY', 'KILL'] as const) {
    await t.test(`${mode} while the identifiers insert waits on a row lock held by another session`, async (t) => {
      const value = `bklock-${mode.replace(' ', '-')}`
      const w = makeWork({ value, nested: 4, sharedConcepts: [shared] })
      await ctx.seed([w])
      const [ontologyType, sourceSystem, sourceId] = ['Work', 'sierra-system-number', value]
      t.equal(workKeys(w.work).root, keyOf({ ontologyType, sourceSystem, sourceId }), 'the blocker takes the root key')
      // Another session inserts the same key and keeps its transaction open: the app's insert blocks.
      const blocker = await ctx.db.pool.getConnection()
      await blocker.query('BEGIN')
      await blocker.query("INSERT INTO canonical_ids (CanonicalId, Status) VALUES ('zzzzzzzz', 'assigned')")
      await blocker.query('INSERT INTO identifiers (OntologyType, SourceSystem, SourceId, CanonicalId) VALUES (?, ?, ?, ?)', [ontologyType, sourceSystem, sourceId, 'zzzzzzzz'])
      const blockerId = ((await blocker.query('SELECT CONNECTION_ID() AS id'))[0] as Array<{ id: number }>)[0]?.id
      const answer = mintInject(ctx.app, { sourceIdentifiers: [w.id] })
      let waiting: number | undefined
      const found = await eventually(async () => {
        const rows = await ctx.db.sql<{ ID: number }>(
          "SELECT ID FROM information_schema.processlist WHERE DB = ? AND ID <> ? AND INFO LIKE 'insert into `identifiers`%'",
          [ctx.config.IDENTIFIERS_DATABASE, blockerId],
        )
        waiting = rows[0]?.ID
        return waiting !== undefined
      }, 10_000, 50)
      t.ok(found, `the app's insert is found waiting in the processlist (session ${waiting})`)
      await ctx.db.sql(`${mode} ${Number(waiting)}`)
      faults++
      await blocker.query('ROLLBACK')
      blocker.release()
      await expectFailedThenRecovered(t, ctx, w, await within(answer, 15_000, 'the faulted mint'), false)
    })
  }
  t.comment(`faults injected: ${faults} (KILL at ${points.length} points of the transaction, KILL QUERY and KILL of a lock-waiting statement)`)
})

t.test('the database down at start-up: the app starts, says so, and resumes by itself', async (t) => {
  const proxy = await TcpProxy.start({ targetPort: 3306, mysql: true })
  t.teardown(() => proxy.close())
  proxy.cut()
  const ctx = await isolatedApp(t, 'db-down-start', { db_port: String(proxy.port) })
  const w = makeWork({ value: 'bstart', nested: 2 })
  await ctx.seed([w])
  await sleep(300) // the start-up migration attempt fails in the background; nothing may crash

  const down = await health(ctx.app)
  t.equal(down.status, 503, '/health is 503')
  t.equal(down.body.checks.database.status, 'error', 'the database check is the one in error')
  t.type(down.body.checks.database.error, 'string')
  t.equal(down.body.checks.sourceIndex.status, 'ok', 'Elasticsearch checks are still ok')
  t.equal(down.body.checks.identifiedIndex.status, 'ok')
  const refused = await mintInject(ctx.app, { sourceIdentifiers: [w.id] })
  t.equal(refused.status, 503, 'a mint is 503')
  t.match(refused.body, { statusCode: 503, message: /^Database unavailable/ })

  proxy.restore()
  t.ok(await eventually(async () => (await health(ctx.app)).status === 200, 15_000), '/health is 200 once the database is back (no restart)')
  const minted = await mintInject(ctx.app, { sourceIdentifiers: [w.id] })
  t.same(minted, { status: 200, body: { successes: [w.id], failures: [] } }, 'the same app mints once the database is back')
  const db = await directDatabase(t, ctx.config.IDENTIFIERS_DATABASE)
  t.equal((await db.mappings()).length, workKeys(w.work).keys.length, 'the schema was migrated late and the work mapped')
})

t.test('the database cut during operation: 503 while down, /health says so, recovery without restart', async (t) => {
  const ctx = await proxiedApp(t, 'db-cut')
  const first = makeWork({ value: 'bcut1', nested: 4, sharedConcepts: [shared] })
  const second = makeWork({ value: 'bcut2', nested: 4, sharedConcepts: [shared] })
  const third = makeWork({ value: 'bcut3', nested: 4, sharedConcepts: [shared] })
  await ctx.seed([first, second, third])
  t.equal((await mintInject(ctx.app, { sourceIdentifiers: [first.id] })).status, 200)
  const firstIds = await rowsFor(ctx, first.work)
  t.ok(ctx.proxy.connections.size > 0, 'the pool holds open connections when the cut comes')

  ctx.proxy.cut()
  await sleep(300) // pooled connections die idle: that must not crash the process
  const down = await health(ctx.app)
  t.equal(down.status, 503, '/health is 503 while the database is cut')
  t.equal(down.body.checks.database.status, 'error')
  t.equal(down.body.checks.sourceIndex.status, 'ok')
  for (let i = 0; i < 3; i++) {
    const refused = await within(mintInject(ctx.app, { sourceIdentifiers: [second.id, first.id] }), 15_000, 'mint while cut')
    t.equal(refused.status, 503, `mint ${i + 1} while cut is 503`)
  }
  const sharedKey = keyOf({ ontologyType: 'Concept', sourceSystem: 'lc-names', sourceId: 'n-shared' })
  t.same([...(await rowsFor(ctx, second.work)).keys()], [sharedKey], 'nothing was written while cut (only the concept minted before it is mapped)')

  ctx.proxy.restore()
  const back = await within(mintInject(ctx.app, { sourceIdentifiers: [second.id, first.id] }), 15_000, 'mint after restore')
  t.same(back, { status: 200, body: { successes: [second.id, first.id], failures: [] } }, 'the first request after the restore succeeds')
  t.same(await rowsFor(ctx, first.work), firstIds, 'IDs minted before the outage are unchanged')
  t.equal((await health(ctx.app)).status, 200, '/health is 200 again')

  // A cut while a mint is inside its transaction.
  const held = ctx.proxy.holdNext((c) => /^insert into `identifiers`/i.test(c.sql ?? ''))
  const answer = mintInject(ctx.app, { sourceIdentifiers: [third.id] })
  await within(held, 10_000, 'the mint reaching its insert')
  ctx.proxy.cut()
  const cutAnswer = await within(answer, 15_000, 'the mint cut mid-transaction')
  ctx.proxy.restore()
  await expectFailedThenRecovered(t, ctx, third, cutAnswer, false)
})

t.test('the database stops answering (a silent network): mint answers 503 in bounded time, not never', async (t) => {
  const ctx = await proxiedApp(t, 'db-silent')
  const w = makeWork({ value: 'bsilent', nested: 2 })
  await ctx.seed([w])
  t.equal((await mintInject(ctx.app, { sourceIdentifiers: [w.id] })).status, 200, 'warm: the pool has a connection')

  ctx.proxy.blackhole()
  const started = Date.now()
  // The mint takes the idle pooled connection, whose peer has gone silent: its look-up goes nowhere.
  let sent = false
  ctx.proxy.onCommand((c) => {
    if (/^select .* from `identifiers`/is.test(c.sql ?? '')) sent = true
  })
  const pending = mintInject(ctx.app, { sourceIdentifiers: [w.id] })
  t.ok(await eventually(async () => sent, 10_000, 10), 'the look-up was sent on a pooled connection')
  const healthAnswer = await within(health(ctx.app), 10_000, 'health while silent')
  t.equal(healthAnswer.status, 503, '/health answers 503 (its checks time out)')
  t.equal(healthAnswer.body.checks.database.status, 'error')
  const answer = await within(pending, 30_000, 'mint while the database is silent').catch((error: Error) => ({ status: 0, body: { message: error.message } }))
  t.equal(answer.status, 503, `mint answers 503 within 30 s (${answer.status === 0 ? answer.body.message : `${Date.now() - started} ms: ${answer.body.message}`})`)
  ctx.proxy.restore()
  await within(pending, 30_000, 'mint after the database answers again').catch(() => undefined)
  t.equal((await within(mintInject(ctx.app, { sourceIdentifiers: [w.id] }), 15_000, 'mint after restore')).status, 200, 'and mints again once it answers')
})
