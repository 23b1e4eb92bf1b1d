// A work passes through a mint unchanged apart from the mint's own edits, number literals included:
// source works are written as text, literal by literal, and the identified copy is read back as
// the text Elasticsearch stores, then compared token by token by an oracle written apart from the
// service (test/oracle.ts). Through HTTP and through the Lambda handler.
import t from 'tap'
import fc from 'fast-check'
import { localEnv } from '../../fixtures/local-env.js'
import { workTree, writeTree } from '../generators.js'
import { mint, setup, type TestContext } from '../helpers.js'
import { identifiedCopyProblems, readTree } from '../oracle.js'
import { lambdaEnv, startLambdaHost } from '../reliability/lambda-host.js'

const es = `http://${localEnv.es_upstream_host}:${localEnv.es_upstream_port}`

/** Writes each work's exact text into the source index. */
async function seedText(index: string, works: Array<{ id: string; text: string }>) {
  const body = works.map(({ id, text }) => `${JSON.stringify({ index: { _index: index, _id: id } })}\n${text}\n`).join('')
  const response = await fetch(`${es}/_bulk?refresh=true`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body })
  const result = (await response.json()) as { errors: boolean; items: unknown[] }
  if (!response.ok || result.errors) throw new Error(`seeding failed: ${JSON.stringify(result).slice(0, 500)}`)
}

/** The identified copy of the work with this root source identifier value, as the text Elasticsearch holds. */
async function identifiedText(ctx: TestContext, value: string): Promise<string> {
  const [row] = await ctx.sql<{ CanonicalId: string }>("SELECT CanonicalId FROM identifiers WHERE OntologyType = 'Work' AND SourceSystem = 'sierra-system-number' AND SourceId = ?", [value])
  if (!row) throw new Error(`${value} was not minted`)
  const response = await fetch(`${es}/${ctx.config.es_identified_index}/_source/${row.CanonicalId}`)
  if (!response.ok) throw new Error(`${value}: ${row.CanonicalId} is not in the identified index (${response.status})`)
  return response.text()
}

function checkCopies(pairs: Array<{ source: string; identified: string }>) {
  for (const { source, identified } of pairs) {
    const problems = identifiedCopyProblems(readTree(source), readTree(identified))
    if (problems.length > 0) throw new Error(`${problems.slice(0, 5).join('\n')}\nsource: ${source.slice(0, 400)}\nidentified: ${identified.slice(0, 400)}`)
  }
}

t.test('POST /mint and the Lambda handler keep every value of a work exactly, number literals included', async (t) => {
  const ctx = await setup(t, 'exact-numbers')
  const lambda = await startLambdaHost(lambdaEnv(ctx.config))
  t.teardown(() => lambda.close())
  let run = 0
  await fc.assert(
    fc.asyncProperty(fc.array(workTree(), { minLength: 1, maxLength: 10 }), fc.boolean(), async (makers, viaLambda) => {
      run++
      const works = makers.map((make, i) => {
        const value = `e${run}x${i}`
        return { id: `exact-${run}-${i}`, value, text: writeTree(make(value)) }
      })
      await seedText(ctx.config.es_source_index, works)
      const request = { sourceIdentifiers: works.map((w) => w.id) }
      const answer = viaLambda ? await lambda.invoke(request) : { ok: true as const, result: (await mint(ctx.app, request)).body }
      if (!answer.ok) throw new Error(`the Lambda threw ${answer.error.name}: ${answer.error.message}`)
      const result = answer.result as { successes: string[]; failures: unknown[] }
      if (result.successes.length !== works.length) throw new Error(`not every work minted: ${JSON.stringify(result.failures).slice(0, 500)}`)
      checkCopies(await Promise.all(works.map(async (w) => ({ source: w.text, identified: await identifiedText(ctx, w.value) }))))
    }),
    { numRuns: 25, seed: 4242, endOnFailure: true },
  )
  t.pass(`${run} requests of generated works came through exactly`)
})

t.test('the oracle catches what plain JSON would do to these literals', async (t) => {
  const source = '{"state":{"sourceIdentifier":{"identifierType":{"id":"x"},"ontologyType":"Work","value":"v"}},"n":[12345678901234567890,1.0,-0,1e5]}'
  const respelt = JSON.stringify({ ...JSON.parse(source), state: { ...JSON.parse(source).state, canonicalId: 'abcdefgh' } })
  t.not(identifiedCopyProblems(readTree(source), readTree(respelt)).length, 0, 'JSON.parse + JSON.stringify fails the check')
  const exact = source.replace('"value":"v"}}', '"value":"v"},"canonicalId":"abcdefgh"}')
  t.same(identifiedCopyProblems(readTree(source), readTree(exact)), [], 'the exact copy passes')
})
