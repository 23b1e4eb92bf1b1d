/**
 * Stress: 16 concurrent callers (8 through HTTP inject on one app, 8 through the Lambda handler in
 * two separate "containers", i.e. processes with their own pools) mint round after round of
 * all-new works whose identifiers overlap heavily: the same works are asked for by several callers
 * at once, works share concepts (Person and Agent are one Concept), and predecessor chains hand
 * their canonical ID on. Afterwards the database and the target index must agree with every answer.
 */
import t from 'tap'
import { keyOf } from '../../src/services/identifier-store/keys.js'
import { makeWork } from '../../fixtures/works.js'
import { setup } from '../helpers.js'
import { lambdaEnv, startLambdaHost, type LambdaHost } from './lambda-host.js'
import { TcpProxy } from './proxy.js'
import { directDatabase, embeddedIdProblems, rowKey, workKeys } from './support.js'

const ROUNDS = Number(process.env.STRESS_ROUNDS ?? 12)
const WORKS_PER_ROUND = 40
const CHAINS = 6
const INJECT_CALLERS = 8
const LAMBDA_CONTAINERS = 2
const CALLERS_PER_CONTAINER = 4
const seed = Number(process.env.STRESS_SEED ?? Math.floor(Math.random() * 2 ** 31))

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed with STRESS_SEED. */
function random(seedValue: number) {
  let a = seedValue >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

interface StressWork {
  id: string
  value: string
  work: Record<string, unknown>
  chain?: number
  round: number
}

interface Answer {
  status: number
  body: { successes?: string[]; failures?: Array<{ sourceIdentifier: string; error: string }>; message?: string }
}

t.test(`${INJECT_CALLERS + LAMBDA_CONTAINERS * CALLERS_PER_CONTAINER} concurrent callers mint overlapping identifiers consistently`, async (t) => {
  const started = Date.now()
  const rand = random(seed)
  t.comment(`seed ${seed} (STRESS_SEED=${seed} replays the same works and batches)`)

  // Every connection to MariaDB, from the app and the containers alike, goes through a proxy that
  // counts deadlocks and the races a mint lost (and resolved) to a concurrent one.
  const proxy = await TcpProxy.start({ targetPort: 3306, mysql: true })
  const ctx = await setup(t, 'stress', { db_port: String(proxy.port), max_connections: '8' })
  const db = await directDatabase(t, ctx.config.IDENTIFIERS_DATABASE)
  const containers: LambdaHost[] = await Promise.all(
    Array.from({ length: LAMBDA_CONTAINERS }, () => startLambdaHost(lambdaEnv(ctx.config, { db_port: String(proxy.port), max_connections: '4' }))),
  )
  t.teardown(async () => {
    await Promise.all(containers.map((c) => c.close()))
    await proxy.close()
  })

  // Concepts shared across rounds (minted from round 0 on) and concepts new in each round.
  const globalConcepts = Array.from({ length: 6 }, (_, i) => `g${i}`)
  const agentTypes = ['Person', 'Agent', 'Organisation'] // all stored as Concept: one key per value
  const subjectTypes = ['Subject', 'Concept']
  const conceptFor = (value: string): [string, string, string, string] => {
    const asAgent = rand() < 0.6
    const ontologyType = (asAgent ? agentTypes : subjectTypes)[Math.floor(rand() * (asAgent ? 3 : 2))] as string
    return [ontologyType, asAgent ? 'lc-names' : 'lc-subjects', value, `Label ${value}`]
  }

  const allWorks: StressWork[] = []
  const chainHeads: Array<{ identifierType: string; value: string }> = []
  const roundWorks = (round: number): StressWork[] => {
    const roundConcepts = Array.from({ length: 10 }, (_, i) => `r${round}c${i}`)
    const works: StressWork[] = []
    for (let i = 0; i < WORKS_PER_ROUND; i++) {
      const concepts = new Map<string, [string, string, string, string]>()
      for (let k = 0; k < 3; k++) {
        const value = rand() < 0.3 ? (globalConcepts[Math.floor(rand() * globalConcepts.length)] as string) : (roundConcepts[Math.floor(rand() * roundConcepts.length)] as string)
        concepts.set(value, conceptFor(value))
      }
      const chain = i < CHAINS ? i : undefined
      const value = chain !== undefined ? `chain${chain}-r${round}` : `r${round}w${i}`
      const predecessor = chain !== undefined && round > 0 ? chainHeads[chain] : undefined
      const { id, work } = makeWork({ value, nested: 3, sharedConcepts: [...concepts.values()], ...(predecessor ? { predecessor } : {}) })
      works.push({ id, value, work, round, ...(chain !== undefined ? { chain } : {}) })
    }
    return works
  }

  const invokeInject = async (ids: string[]): Promise<Answer> => {
    const response = await ctx.app.inject({ method: 'POST', url: '/mint', payload: { sourceIdentifiers: ids, jobId: `job-${ids.length}` } })
    return { status: response.statusCode, body: response.json() }
  }
  const invokeLambda = (container: LambdaHost) => async (ids: string[]): Promise<Answer> => {
    const outcome = await container.invoke({ sourceIdentifiers: ids, jobId: `job-${ids.length}` })
    if (outcome.ok) return { status: 200, body: outcome.result as Answer['body'] }
    return { status: outcome.error.name === 'DependencyUnavailableError' ? 503 : 500, body: { message: `${outcome.error.name}: ${outcome.error.message}` } }
  }
  const callers = [
    ...Array.from({ length: INJECT_CALLERS }, (_, i) => ({ name: `inject-${i}`, call: invokeInject })),
    ...containers.flatMap((container, c) => Array.from({ length: CALLERS_PER_CONTAINER }, (_, i) => ({ name: `lambda-${c}-${i}`, call: invokeLambda(container) }))),
  ]

  let requests = 0
  let unavailable = 0
  const unavailableMessages = new Map<string, number>()
  const problems: string[] = []
  const successes = new Set<string>()
  for (let round = 0; round < ROUNDS; round++) {
    const works = roundWorks(round)
    allWorks.push(...works)
    await ctx.seed(works.map(({ id, work }) => ({ id, work })))
    // Each caller asks for a random half of the round's works (so each work is asked for by about
    // eight callers at once), sometimes with a repeat padded with whitespace.
    const batches = callers.map(() => {
      const chosen = works.filter(() => rand() < 0.5).map((w) => w.id)
      if (chosen.length === 0) chosen.push((works[0] as StressWork).id)
      if (rand() < 0.3) chosen.push(` ${chosen[0]}\t`)
      return chosen
    })
    // A work no caller drew (one in 2^16 per work, so about one run in 140) still gets asked for:
    // every work of the round is checked afterwards.
    const asked = new Set(batches.flat().map((id) => id.trim()))
    for (const w of works) if (!asked.has(w.id)) (batches[Math.floor(rand() * batches.length)] as string[]).push(w.id)
    const answers = await Promise.all(
      callers.map(async (caller, i) => {
        const batch = batches[i] as string[]
        // A 503 is the contract for "retry the whole request": callers do, a bounded number of times.
        for (let attempt = 1; ; attempt++) {
          requests++
          const answer = await caller.call(batch)
          if (answer.status !== 503 || attempt === 4) return { caller: caller.name, batch, answer }
          unavailable++
          const message = String(answer.body.message).slice(0, 200)
          unavailableMessages.set(message, (unavailableMessages.get(message) ?? 0) + 1)
          await new Promise((resolve) => setTimeout(resolve, 20 * attempt))
        }
      }),
    )
    for (const { caller, batch, answer } of answers) {
      const expected = [...new Set(batch.map((id) => id.trim()))]
      if (answer.status !== 200) problems.push(`round ${round} ${caller}: status ${answer.status} ${answer.body.message ?? ''}`)
      else if (JSON.stringify(answer.body.successes) !== JSON.stringify(expected) || answer.body.failures?.length !== 0) {
        problems.push(`round ${round} ${caller}: ${JSON.stringify(answer.body).slice(0, 300)}`)
      }
      for (const id of answer.body.successes ?? []) successes.add(id)
    }
    for (const w of works) if (w.chain !== undefined) chainHeads[w.chain] = { identifierType: 'sierra-system-number', value: w.value }
  }
  t.same(problems, [], 'every request answered 200 with every work a success')
  t.equal(unavailable, 0, 'no request needed a retry: contention alone never answers 503')
  for (const [message, n] of unavailableMessages) t.comment(`503 x${n}: ${message}`)

  // --- The database: one mapping per source identifier, no canonical ID shared but by a chain.
  const rows = await db.mappings()
  const mapping = new Map(rows.map((r) => [rowKey(r), r.CanonicalId]))
  const expectedKeys = new Set(allWorks.flatMap((w) => workKeys(w.work).keys))
  t.equal(rows.length, mapping.size, 'no key has two rows')
  t.same([...expectedKeys].filter((k) => !mapping.has(k)), [], 'every identifier in every work has a mapping')
  t.same([...mapping.keys()].filter((k) => !expectedKeys.has(k)), [], 'nothing else has a mapping')

  const chainKeys = new Map<number, string[]>()
  for (const w of allWorks) {
    if (w.chain === undefined) continue
    const keys = chainKeys.get(w.chain) ?? []
    keys.push(keyOf({ ontologyType: 'Work', sourceSystem: 'sierra-system-number', sourceId: w.value }))
    chainKeys.set(w.chain, keys)
  }
  const byCanonicalId = new Map<string, string[]>()
  for (const [key, id] of mapping) byCanonicalId.set(id, [...(byCanonicalId.get(id) ?? []), key])
  const shared = [...byCanonicalId.entries()].filter(([, keys]) => keys.length > 1)
  const chainSets = [...chainKeys.values()].map((keys) => [...keys].sort().join('|'))
  t.same(
    shared.filter(([, keys]) => !chainSets.includes([...keys].sort().join('|'))),
    [],
    'the only canonical IDs given to more than one identifier are the predecessor chains, each whole',
  )
  t.equal(shared.length, CHAINS, `each of the ${CHAINS} chains shares one canonical ID across its ${ROUNDS} works`)
  t.same(await db.unassigned(), [], "every mapped canonical ID is in canonical_ids with Status 'assigned'")
  t.same(await db.orphans(), [], 'no orphans: every canonical_ids row is mapped (lost races deleted their candidates)')

  // --- The target index: every success is an indexed work carrying the database's IDs.
  await ctx.es.indices.refresh({ index: ctx.config.es_identified_index })
  const lastOfChain = new Map<number, StressWork>()
  for (const w of allWorks) if (w.chain !== undefined) lastOfChain.set(w.chain, w)
  const indexProblems: string[] = []
  const rootIds = new Set<string>()
  for (let i = 0; i < allWorks.length; i += 200) {
    const slice = allWorks.slice(i, i + 200)
    const ids = slice.map((w) => mapping.get(workKeys(w.work).root) as string)
    const { docs } = await ctx.es.mget<Record<string, unknown>>({ index: ctx.config.es_identified_index, ids })
    slice.forEach((w, j) => {
      const doc = docs[j] as { found?: boolean; _source?: Record<string, unknown> }
      rootIds.add(ids[j] as string)
      if (!successes.has(w.id)) indexProblems.push(`${w.id} was never reported a success`)
      if (!doc?.found) {
        indexProblems.push(`${w.id}: nothing indexed under ${ids[j]}`)
        return
      }
      // A chain's ID holds its latest work: each successor replaced its predecessor.
      const expectedWork = w.chain !== undefined ? (lastOfChain.get(w.chain) as StressWork) : w
      const state = doc._source?.state as { sourceIdentifier?: { value?: string } } | undefined
      if (state?.sourceIdentifier?.value !== expectedWork.value) indexProblems.push(`${w.id}: indexed ${state?.sourceIdentifier?.value}, expected ${expectedWork.value}`)
      indexProblems.push(...embeddedIdProblems(doc._source, mapping).map((p) => `${w.id}: ${p}`))
    })
  }
  t.same(indexProblems, [], 'every success is indexed under its root canonical ID with every node carrying its mapped ID')
  const count = await ctx.es.count({ index: ctx.config.es_identified_index })
  t.equal(count.count, rootIds.size, 'one document per root canonical ID, nothing else')

  // --- Figures.
  const deletes = proxy.statements.filter((s) => /^delete from `canonical_ids`/i.test(s))
  const discarded = deletes.reduce((n, s) => n + (s.match(/'[a-z0-9]{8}'/g)?.length ?? 0), 0)
  const rereads = proxy.statements.filter((s) => /^select .* from `identifiers` .* for update$/is.test(s)).length
  const deadlocks = proxy.serverErrors.get(1213) ?? 0
  const duplicates = proxy.serverErrors.get(1062) ?? 0
  const lockWaits = proxy.serverErrors.get(1205) ?? 0
  t.comment(`callers: ${callers.length} (${INJECT_CALLERS} inject, ${LAMBDA_CONTAINERS} Lambda containers x ${CALLERS_PER_CONTAINER}); rounds: ${ROUNDS}`)
  t.comment(`requests: ${requests} (${unavailable} answered 503 and retried); works: ${allWorks.length}; identifiers: ${mapping.size}; canonical IDs: ${byCanonicalId.size}`)
  t.comment(
    `conflicts resolved: ${deletes.length} transactions lost a race on ${discarded} identifiers to a concurrent mint (${rereads} locking re-reads), ` +
      `${deadlocks} deadlocks and ${duplicates} duplicate-candidate errors retried, ${lockWaits} lock wait timeouts`,
  )
  t.comment(`database connections opened: ${proxy.accepted}; statements: ${proxy.statements.length}; elapsed ${Date.now() - started} ms`)
  t.ok(deletes.length + deadlocks > 0, 'the callers really did collide (otherwise this test proves nothing)')
  t.ok(containers.every((c) => c.alive()), 'no Lambda container crashed')
})
