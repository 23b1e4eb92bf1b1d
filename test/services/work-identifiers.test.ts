import fc from 'fast-check'
import assert from 'node:assert/strict'
import t from 'tap'
import { keyOf } from '../../src/services/identifier-store/keys.js'
import { embedCanonicalIds, findIdentifiableNodes, identifierKey } from '../../src/services/work-identifiers.js'
import { sourceWork } from '../generators.js'
import { identifiedCopyProblems, readTree, readWork, type IdentifierKey, type IdentifierProblem, type WorkNode } from '../oracle.js'

/** The product's wording of each malformation the oracle finds (README: the error says why, with its JSON path). */
function expectedReason(problem: IdentifierProblem): string {
  const which = problem.at.endsWith('.predecessorIdentifier') ? 'predecessorIdentifier' : 'sourceIdentifier'
  const field = problem.field === '' ? '' : `${problem.field} `
  const why = {
    'not an object': 'must be an object',
    'not a non-empty string': 'must be a non-empty string',
    'not well-formed': 'is not well-formed Unicode',
    'too long': `is longer than ${{ ontologyType: 64, 'identifierType.id': 255, value: 1020 }[problem.field]} bytes`,
  }[problem.why]
  return `malformed ${which} at ${problem.at}: ${field}${why}`
}

/** Eight characters of the canonical ID alphabet, one per distinct number. */
const idFor = (n: number) => n.toString(8).padStart(8, '0').replace(/[0-7]/g, (d) => 'abcdefgh'[Number(d)] as string)

/**
 * The verdict on one work, compared with the oracle's (test/oracle.ts): which nodes, with which keys
 * and predecessors, which root, or which malformed identifier; then the identified copy changes
 * nothing but the contract's edits. Throws (node:assert) so that fast-check shrinks a failure.
 */
function checkWork(generated: unknown, stats: Map<string, number>): void {
  const text = JSON.stringify(generated)
  const work: unknown = JSON.parse(text)
  const expected = readWork(work)
  const analysis = findIdentifiableNodes(work)
  const count = (what: string) => stats.set(what, (stats.get(what) ?? 0) + 1)
  if (!expected.isObject) {
    count('not an object')
    assert.deepEqual(analysis, { ok: false, reason: 'the source document is not a JSON object' })
    return
  }
  if (expected.problems.length > 0) {
    count('malformed')
    for (const p of expected.problems) count(`malformed: ${p.at.endsWith('predecessorIdentifier') ? 'predecessorIdentifier' : 'sourceIdentifier'} ${p.field || '(itself)'} ${p.why}`)
    assert.ok(!analysis.ok, `accepted a work with a malformed identifier: ${JSON.stringify(expected.problems[0])}`)
    const reasons = expected.problems.map(expectedReason)
    assert.ok(reasons.includes(analysis.reason), `reason ${JSON.stringify(analysis.reason)} is none of ${JSON.stringify(reasons)}`)
    return
  }
  if (!expected.root) {
    count('no root')
    const where = Object.hasOwn(work as object, 'state') ? 'state.sourceIdentifier' : 'sourceIdentifier'
    assert.deepEqual(analysis, { ok: false, reason: `the work has no root identifier (${where})` })
    return
  }
  count(expected.nodes.some((n) => n.predecessor) ? 'identifiable, with a predecessor' : 'identifiable')
  assert.ok(analysis.ok, `refused an identifiable work: ${analysis.ok ? '' : analysis.reason}`)
  const found = analysis.nodes.map((n) => ({ path: n.path, key: n.keyId, predecessor: n.predecessorKeyId, same: n.node }))
  const wanted = expected.nodes.map((n) => ({ path: n.path, key: keyOf(n.key as IdentifierKey), predecessor: n.predecessor && keyOf(n.predecessor), same: n.node }))
  assert.deepStrictEqual(found.map(({ same, ...n }) => n), wanted.map(({ same, ...n }) => n), 'the nodes, their keys and predecessors')
  assert.ok(found.every((n, i) => n.same === wanted[i]?.same), 'each node is the object at its path')
  assert.ok(analysis.root.node === expected.root.node, `root at ${analysis.root.path}, expected ${expected.root.path}`)

  const ids = new Map<string, string>()
  embedCanonicalIds(analysis.nodes, (n) => ids.get(n.keyId) ?? (ids.set(n.keyId, idFor(ids.size)), idFor(ids.size - 1)))
  // identifiedCopyProblems would expect a canonicalId in an object with a sourceIdentifier inside an
  // identifier too; there, the identifiers must simply come through unchanged.
  const identifiers = (nodes: WorkNode[]) => JSON.stringify(nodes.map((n) => [n.node.sourceIdentifier, n.node.predecessorIdentifier]))
  const before = identifiers(expected.nodes)
  if (!before.includes('"sourceIdentifier"')) {
    assert.deepStrictEqual(identifiedCopyProblems(readTree(text), readTree(JSON.stringify(work))), [], 'the identified copy is the source with the minter\'s edits only')
  }
  assert.equal(identifiers(readWork(work).nodes), before, 'identifiers come through unchanged')
  for (const n of readWork(work).nodes) assert.equal(n.node.canonicalId, ids.get(keyOf(n.key as IdentifierKey)), `${n.path} carries its key's canonical ID`)
}

t.test('findIdentifiableNodes + embedCanonicalIds: nodes, keys, predecessors and verdicts as the oracle reads them; only the contract\'s edits', async (t) => {
  const stats = new Map<string, number>()
  const passed = t.doesNotThrow(() => fc.assert(fc.property(sourceWork(), (work) => checkWork(work, stats)), { numRuns: 4000 }))
  t.comment([...stats].map(([what, n]) => `${what}: ${n}`).join(', '))
  if (!passed) return
  // The generator must reach every verdict and every malformation, or the property proves little.
  // Each malformation is expected about 25 times in 4000 works: fewer than 3 has a chance below 1e-8.
  for (const what of ['identifiable', 'identifiable, with a predecessor', 'malformed', 'no root', 'not an object']) t.ok((stats.get(what) ?? 0) >= 20, `${what}: ${stats.get(what) ?? 0} works`)
  const malformations = [
    ...['', 'identifierType'].map((field) => `${field || '(itself)'} not an object`),
    ...['identifierType.id', 'ontologyType', 'value'].flatMap((field) => ['not a non-empty string', 'not well-formed', 'too long'].map((why) => `${field} ${why}`)),
  ]
  for (const which of ['sourceIdentifier', 'predecessorIdentifier']) {
    for (const m of malformations) t.ok((stats.get(`malformed: ${which} ${m}`) ?? 0) >= 3, `malformed ${which}: ${m}: generated ${stats.get(`malformed: ${which} ${m}`) ?? 0} times`)
  }
})

t.test('findIdentifiableNodes walks a very deep document without overflowing the stack', async (t) => {
  let deep: Record<string, unknown> = { sourceIdentifier: { identifierType: { id: 'x' }, ontologyType: 'Item', value: 'leaf' } }
  for (let i = 0; i < 100_000; i++) deep = { child: deep }
  const analysis = findIdentifiableNodes({ sourceIdentifier: { identifierType: { id: 'x' }, ontologyType: 'Work', value: 'w' }, deep })
  t.ok(analysis.ok)
  if (analysis.ok) t.equal(analysis.nodes.length, 2)
})

t.test('identifierKey normalises concept ontology types and rejects malformed identifiers', async (t) => {
  for (const type of ['Person', 'Organisation', 'Place', 'Agent', 'Meeting', 'Genre', 'Period', 'Concept']) {
    t.equal(identifierKey({ identifierType: { id: 'lc-names' }, ontologyType: type, value: 'n1' }).ontologyType, 'Concept')
  }
  t.equal(identifierKey({ identifierType: { id: 'x' }, ontologyType: 'Work', value: 'w' }).ontologyType, 'Work')
  t.throws(() => identifierKey({ identifierType: { id: 'x' }, ontologyType: 'Work', value: '\ud800' }), /well-formed/)
  t.throws(() => identifierKey({ identifierType: { id: '' }, ontologyType: 'Work', value: 'w' }), /identifierType.id/)
  t.throws(() => identifierKey({ identifierType: { id: 'x' }, ontologyType: 'Work', value: 'v'.repeat(1021) }), /1020 bytes/)
  t.throws(() => identifierKey(['x']), /must be an object/)
})

t.test('findIdentifiableNodes treats __proto__ and constructor keys as plain data', async (t) => {
  const work = JSON.parse(
    '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"sourceIdentifier":{"identifierType":{"id":"s"},"ontologyType":"Work","value":"w"}}',
  )
  const analysis = findIdentifiableNodes(work)
  t.ok(analysis.ok)
  if (analysis.ok) embedCanonicalIds(analysis.nodes, () => 'abcdefgh')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  // eslint-disable-next-line no-proto -- the own property a JSON text's "__proto__" key becomes
  t.same(JSON.parse(JSON.stringify(work)).__proto__, { polluted: 1 }, 'kept verbatim')
})
