import fc from 'fast-check'
import t from 'tap'
import { embedCanonicalIds, findIdentifiableNodes, identifierKey } from '../../src/services/work-identifiers.js'

const identifier = fc.record({
  identifierType: fc.record({ id: fc.string({ minLength: 1, maxLength: 10 }) }),
  ontologyType: fc.constantFrom('Work', 'Item', 'Person', 'Agent', 'Concept', 'Subject'),
  value: fc.string({ minLength: 1, maxLength: 10 }),
})

// Arbitrary JSON in which some objects carry a sourceIdentifier.
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 1 }),
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('tree'), { maxKeys: 4 }),
    fc.record({ sourceIdentifier: identifier, type: fc.constantFrom('Identifiable', 'Other'), child: tie('tree') }),
  ),
}))

t.test('findIdentifiableNodes + embedCanonicalIds change identified nodes only', async (t) => {
  fc.assert(
    fc.property(identifier, tree, (root, body) => {
      const work = { state: { sourceIdentifier: root }, data: body }
      const before = structuredClone(work)
      const analysis = findIdentifiableNodes(work)
      if (!analysis.ok) return false
      embedCanonicalIds(analysis.nodes, () => 'abcdefgh')
      // Undo exactly what embedding may do; what is left must equal the source.
      const undo = (value: unknown): unknown => {
        if (Array.isArray(value)) return value.map(undo)
        if (typeof value !== 'object' || value === null) return value
        const object = { ...(value as Record<string, unknown>) }
        if (Object.hasOwn(object, 'sourceIdentifier')) {
          if (object.canonicalId !== 'abcdefgh') return { missing: true }
          delete object.canonicalId
          if (object.type === 'Identified') object.type = 'Identifiable'
        }
        for (const key of Object.keys(object)) if (key !== 'sourceIdentifier') object[key] = undo(object[key])
        return object
      }
      t.same(undo(work), before)
      return analysis.root.node === work.state
    }),
    { numRuns: 300 },
  )
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
  t.same(JSON.parse(JSON.stringify(work)).__proto__, { polluted: 1 }, 'kept verbatim')
})
