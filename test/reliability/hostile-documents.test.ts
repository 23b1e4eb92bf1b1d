/**
 * Hostile source documents, seeded straight into the source index (whose mapping is dynamic:false,
 * so it takes almost anything): identifiers of the wrong shape or type, `__proto__` and
 * `constructor` keys anywhere, nesting as deep as Elasticsearch accepts, and huge documents.
 * Each such work fails alone with a clear reason or succeeds correctly; the service never crashes
 * and nothing is polluted.
 */
import t from 'tap'
import { keyOf } from '../../src/services/identifier-store/keys.js'
import { identifiedCopyProblems, readTree } from '../oracle.js'
import { makeWork, sourceIdentifier } from '../../fixtures/works.js'
import { setup } from '../helpers.js'
import { embeddedIdProblems, health, indexedDocument, mintInject, rowKey, workKeys } from './support.js'

const si = sourceIdentifier
const node = (id: unknown, extra: Record<string, unknown> = {}) => ({ type: 'Identifiable', sourceIdentifier: id, ...extra })
const rootless = (sourceIdentifierValue: unknown) => ({ sourceIdentifier: sourceIdentifierValue, data: { title: 'hostile' } })
const withState = (value: unknown, data: Record<string, unknown> = {}) => ({ state: { sourceIdentifier: value }, data: { title: 'hostile', ...data } })

t.test('identifiers of the wrong shape or type fail their own work only, with the reason', async (t) => {
  const ctx = await setup(t, 'hostile-shapes')
  const good = makeWork({ value: 'bgoodshape', nested: 3 })
  const longText = (bytes: number, char = 'x') => char.repeat(Math.ceil(bytes / Buffer.byteLength(char)))
  const hostile: Array<[string, unknown, RegExp]> = [
    ['string', rootless('Work/sierra/b1'), /malformed sourceIdentifier at \$\.sourceIdentifier: must be an object/],
    ['number', rootless(12345), /must be an object/],
    ['null', rootless(null), /must be an object/],
    ['array', rootless([si('sierra', 'Work', 'b1')]), /must be an object/],
    ['empty object', rootless({}), /identifierType must be an object/],
    ['identifierType a string', rootless({ identifierType: 'sierra', ontologyType: 'Work', value: 'b1' }), /identifierType must be an object/],
    ['identifierType without id', rootless({ identifierType: {}, ontologyType: 'Work', value: 'b1' }), /identifierType\.id must be a non-empty string/],
    ['identifierType.id a number', rootless({ identifierType: { id: 7 }, ontologyType: 'Work', value: 'b1' }), /identifierType\.id must be a non-empty string/],
    ['ontologyType empty', rootless({ identifierType: { id: 'sierra' }, ontologyType: '', value: 'b1' }), /ontologyType must be a non-empty string/],
    ['ontologyType an array', rootless({ identifierType: { id: 'sierra' }, ontologyType: ['Work'], value: 'b1' }), /ontologyType must be a non-empty string/],
    ['value a number', withState({ identifierType: { id: 'sierra' }, ontologyType: 'Work', value: 12345 }), /value must be a non-empty string/],
    ['value an array', withState({ identifierType: { id: 'sierra' }, ontologyType: 'Work', value: ['b1', 'b2'] }), /value must be a non-empty string/],
    ['value a boolean', rootless({ identifierType: { id: 'sierra' }, ontologyType: 'Work', value: true }), /value must be a non-empty string/],
    ['value an object', rootless({ identifierType: { id: 'sierra' }, ontologyType: 'Work', value: { $gt: '' } }), /value must be a non-empty string/],
    ['value empty', rootless({ identifierType: { id: 'sierra' }, ontologyType: 'Work', value: '' }), /value must be a non-empty string/],
    ['value a lone surrogate', rootless({ identifierType: { id: 'sierra' }, ontologyType: 'Work', value: 'b\ud800' }), /value is not well-formed Unicode/],
    ['value 1021 bytes', rootless({ identifierType: { id: 'sierra' }, ontologyType: 'Work', value: longText(1021) }), /value is longer than 1020 bytes/],
    ['identifierType.id 256 bytes', rootless({ identifierType: { id: longText(256) }, ontologyType: 'Work', value: 'b1' }), /identifierType\.id is longer than 255 bytes/],
    ['ontologyType 65 bytes (multi-byte)', rootless({ identifierType: { id: 'sierra' }, ontologyType: longText(65, 'é'), value: 'b1' }), /ontologyType is longer than 64 bytes/],
    ['no root identifier', { state: { sourceModifiedTime: 'x' }, data: { items: [node(si('sierra', 'Item', 'i-orphan'))] } }, /the work has no root identifier \(state\.sourceIdentifier\)/],
    ['a malformed nested node', withState(si('sierra', 'Work', 'bnested'), { items: [{ id: node(si('sierra', 'Item', 'i1')) }, { id: node({ identifierType: { id: 'sierra' }, ontologyType: 'Item' }) }] }), /malformed sourceIdentifier at \$\.data\.items\[1\]\.id\.sourceIdentifier: value must be a non-empty string/],
    ['a malformed predecessor', { state: { sourceIdentifier: si('sierra', 'Work', 'bpred'), predecessorIdentifier: { value: 'b0' } } }, /malformed predecessorIdentifier at \$\.state\.predecessorIdentifier: identifierType must be an object/],
    ['an unminted predecessor', { state: { sourceIdentifier: si('sierra', 'Work', 'bpred2'), predecessorIdentifier: si('sierra', 'Work', 'bnever') } }, /predecessor Work\[sierra\/bnever\] of Work\[sierra\/bpred2\] at \$\.state has no canonical ID/],
    ['sourceIdentifier only inherited through a __proto__ key', JSON.parse('{"sourceIdentifier":{"__proto__":{"identifierType":{"id":"sierra"},"ontologyType":"Work","value":"bproto"}}}'), /identifierType must be an object/],
  ]
  const seeded = hostile.map(([name, work], i) => ({ id: `hostile-${i}-${name.replace(/\W+/g, '-')}`, work }))
  await ctx.seed([good, ...seeded])
  const answer = await mintInject(ctx.app, { sourceIdentifiers: [good.id, ...seeded.map((s) => s.id)] })
  t.equal(answer.status, 200, 'answered 200: hostile works are the works\' problem, not the request\'s')
  t.same(answer.body.successes, [good.id], 'the good work succeeds beside them')
  const failures = new Map<string, string>(answer.body.failures.map((f: { sourceIdentifier: string; error: string }) => [f.sourceIdentifier, f.error]))
  for (const [i, [name, , reason]] of hostile.entries()) {
    const id = seeded[i]?.id as string
    t.match(failures.get(id), reason, `${name}: fails with a clear reason`)
    t.match(failures.get(id), `Failed to mint ID for ${id}: `, `${name}: the error names the work`)
  }
  const rows = await ctx.mappings()
  t.equal(rows.length, workKeys(good.work).keys.length, 'nothing but the good work was minted (a failing work mints nothing)')
  t.equal((await health(ctx.app)).status, 200, 'the service is healthy')
})

t.test('__proto__ and constructor keys: kept verbatim, minted inside, nothing polluted', async (t) => {
  const ctx = await setup(t, 'hostile-proto')
  // Written as JSON text: in JSON, "__proto__" is an ordinary key (an own property once parsed).
  const text = JSON.stringify({
    state: { sourceIdentifier: si('sierra-system-number', 'Work', 'bproto1'), PROTO: { polluted: 'state' } },
    data: {
      title: 'Prototype games',
      PROTO: { polluted: 'data', inner: { id: node(si('lc-names', 'Person', 'n-in-proto')) } },
      constructor: { prototype: { polluted: 'constructor.prototype' }, name: 'Object' },
      prototype: { polluted: 'prototype' },
      hasOwnProperty: 'not a function',
      toString: { id: node(si('lc-subjects', 'Subject', 'sh-tostring'), { identifiedType: 'Subject' }) },
      subjects: [{ id: node({ identifierType: { id: 'lc-subjects', PROTO: { id: 'evil' } }, ontologyType: 'Subject', value: 'sh-proto-id' }), label: 'x' }],
      valueOf: [{ PROTO: { PROTO: { polluted: 'deep' } } }],
    },
  }).replaceAll('"PROTO"', '"__proto__"')
  const source = JSON.parse(text) as Record<string, unknown>
  t.ok(Object.hasOwn(source.data as object, '__proto__'), 'the test document really has an own __proto__ key')
  const id = 'Work[proto]'
  await ctx.seed([{ id, work: source }])

  const answer = await mintInject(ctx.app, { sourceIdentifiers: [id] })
  t.same(answer, { status: 200, body: { successes: [id], failures: [] } }, 'the work is minted')
  t.equal(({} as Record<string, unknown>).polluted, undefined, '({}).polluted is undefined')
  t.notOk(Object.hasOwn(Object.prototype, 'polluted'), 'Object.prototype has no polluted property')
  t.equal(([] as unknown as Record<string, unknown>).polluted, undefined, 'nor do arrays')

  const rows = await ctx.mappings()
  const mapping = new Map(rows.map((r) => [rowKey(r), r.CanonicalId]))
  const key = (ontologyType: string, sourceSystem: string, sourceId: string) => keyOf({ ontologyType, sourceSystem, sourceId })
  t.ok(mapping.has(key('Concept', 'lc-names', 'n-in-proto')), 'a node under a __proto__ key is found and minted')
  t.ok(mapping.has(key('Subject', 'lc-subjects', 'sh-tostring')), 'a node under a toString key is minted')
  t.ok(mapping.has(key('Subject', 'lc-subjects', 'sh-proto-id')), 'identifierType.id is read from the object itself, not from a __proto__ key')
  t.equal(rows.length, 4, 'the work and its three nodes, nothing else')

  const indexed = await indexedDocument(ctx.es, ctx.config.es_identified_index, mapping.get(key('Work', 'sierra-system-number', 'bproto1')) as string)
  t.ok(indexed, 'indexed under its canonical ID')
  const data = indexed?.data as Record<string, unknown>
  t.ok(Object.hasOwn(data, '__proto__'), 'the indexed work keeps its __proto__ key')
  t.equal(Object.getPrototypeOf(data), Object.prototype, 'as a key, not as a prototype')
  t.equal(((data as { constructor: { prototype: { polluted: string } } }).constructor.prototype.polluted), 'constructor.prototype', 'constructor.prototype kept verbatim')
  // The whole document: the source with canonical IDs embedded and types promoted, nothing else,
  // as the oracle written apart from the service reads the two texts.
  t.same(identifiedCopyProblems(readTree(text), readTree(JSON.stringify(indexed))), [], 'the indexed document is the source plus the mint\'s edits, key for key')
  t.same(embeddedIdProblems(indexed, mapping), [], 'and each canonical ID is the one the database holds')
})

/** The nesting depth of a JSON text (the root object counts 1), as Elasticsearch counts it. */
function depthOf(text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '{' || c === '[') max = Math.max(max, ++depth)
    else if (c === '}' || c === ']') depth--
  }
  return max
}

/** A work whose identifiable nodes nest one inside the next, `levels` deep. */
function nestedNodes(value: string, levels: number) {
  let inner: Record<string, unknown> = { label: 'bottom' }
  for (let level = levels; level >= 1; level--) inner = node(si('sierra-system-number', 'Item', `${value}-L${level}`), { child: inner })
  return { id: `Work[deep/${value}]`, work: { state: { sourceIdentifier: si('sierra-system-number', 'Work', value) }, data: { nest: inner } } }
}

/** A work with one node at the bottom of `levels` nested arrays. */
function nestedArrays(value: string, levels: number) {
  let inner: unknown = node(si('sierra-system-number', 'Item', `${value}-bottom`))
  for (let level = 0; level < levels; level++) inner = [inner]
  return { id: `Work[deeparr/${value}]`, work: { state: { sourceIdentifier: si('sierra-system-number', 'Work', value) }, data: { nest: inner } } }
}

t.test('nesting as deep as Elasticsearch accepts', async (t) => {
  const ctx = await setup(t, 'hostile-deep')
  // Find the deepest work the source index takes: Elasticsearch caps nesting (1000 in 8.x).
  const probes: string[] = []
  const accepts = async (work: { id: string; work: unknown }) => {
    probes.push(`probe-${work.id}`)
    const response = await ctx.es.index({ index: ctx.config.es_source_index, id: `probe-${work.id}`, document: work.work }, { ignore: [400] })
    return (response as { result?: string }).result === 'created'
  }
  const removeProbes = () =>
    ctx.es.bulk({ refresh: true, operations: probes.splice(0).map((id) => ({ delete: { _index: ctx.config.es_source_index, _id: id } })) })
  // Bounded above by what this process can serialise (JSON.stringify recurses): Elasticsearch's cap is lower.
  let low = 10
  let high = 1500
  for (let i = 0; i < 20 && high - low > 1; i++) {
    const middle = Math.floor((low + high) / 2)
    if (await accepts(nestedNodes(`p${middle}`, middle))) low = middle
    else high = middle
  }
  const deepest = nestedNodes('bdeep', low)
  const maxDepth = depthOf(JSON.stringify(deepest.work))
  t.comment(`deepest accepted: ${low} nested identifiable nodes, JSON depth ${maxDepth}; one more level is refused`)
  t.ok(await accepts(nestedNodes('bcheck', low)), 'the deepest probe is accepted')
  t.notOk(await accepts(nestedNodes('bcheck2', low + 1)), 'one more level is refused by Elasticsearch')
  await removeProbes()

  let arrayLevels = 10
  for (let levels = maxDepth; levels > 10; levels--) {
    if (await accepts(nestedArrays(`a${levels}`, levels))) {
      arrayLevels = levels
      break
    }
  }
  const deepArrays = nestedArrays('bdeeparr', arrayLevels)
  t.comment(`deepest array nesting accepted: ${arrayLevels} arrays (JSON depth ${depthOf(JSON.stringify(deepArrays.work))})`)
  await removeProbes()

  await ctx.seed([deepest, deepArrays])
  const answer = await mintInject(ctx.app, { sourceIdentifiers: [deepest.id, deepArrays.id] })
  t.same(answer, { status: 200, body: { successes: [deepest.id, deepArrays.id], failures: [] } }, 'both deepest works are minted')
  const rows = await ctx.mappings()
  t.equal(rows.length, low + 1 + 2, `every one of the ${low} nested nodes, both roots and the array's bottom node got an ID`)
  const mapping = new Map(rows.map((r) => [rowKey(r), r.CanonicalId]))
  for (const w of [deepest, deepArrays]) {
    const indexed = await indexedDocument(ctx.es, ctx.config.es_identified_index, mapping.get(workKeys(w.work).root) as string)
    t.ok(indexed, `${w.id} is indexed (the identified copy is no deeper than the source)`)
    t.same(embeddedIdProblems(indexed, mapping), [], `${w.id}: every node carries its ID, down to the bottom`)
  }
  t.equal((await health(ctx.app)).status, 200, 'the service is healthy')
})

t.test('huge documents: 10,000 nodes, identifiers at their size limits, an 8 MB work with 2,000 nodes', async (t) => {
  const ctx = await setup(t, 'hostile-huge')
  const many = makeWork({ value: 'bmany', nested: 10_000 })
  const atLimits = {
    id: 'Work[limits]',
    work: {
      // 64, 255 and 1020 bytes exactly, in multi-byte characters where they fit.
      state: { sourceIdentifier: si('s'.repeat(255), 'Work', 'é'.repeat(510)) },
      data: { items: [{ id: node(si('ü'.repeat(127) + 'x', 'ő'.repeat(32), '🙂'.repeat(255))) }] },
    },
  }
  const big = makeWork({ value: 'bbig', nested: 2_000 })
  ;(big.work.data as Record<string, unknown>).description = 'lorem ipsum dolor sit amet '.repeat(Math.ceil((8 * 1024 * 1024) / 27))
  await ctx.seed([many])
  await ctx.seed([atLimits])
  await ctx.seed([big])

  for (const w of [many, atLimits, big]) {
    const started = Date.now()
    const answer = await mintInject(ctx.app, { sourceIdentifiers: [w.id] })
    t.same(answer, { status: 200, body: { successes: [w.id], failures: [] } }, `${w.id}: minted in ${Date.now() - started} ms (${workKeys(w.work).keys.length} identifiers, ${(JSON.stringify(w.work).length / 1e6).toFixed(1)} MB)`)
    const mapping = new Map((await ctx.mappings()).map((r) => [rowKey(r), r.CanonicalId]))
    const keys = workKeys(w.work).keys
    t.equal(keys.filter((k) => mapping.has(k)).length, keys.length, `${w.id}: every identifier is mapped`)
    const indexed = await indexedDocument(ctx.es, ctx.config.es_identified_index, mapping.get(workKeys(w.work).root) as string)
    t.same(embeddedIdProblems(indexed, mapping), [], `${w.id}: indexed with every ID embedded`)
  }
  const again = await mintInject(ctx.app, { sourceIdentifiers: [many.id, atLimits.id, big.id] })
  t.same(again.body.successes, [many.id, atLimits.id, big.id], 're-minting all three together succeeds')
  t.equal((await health(ctx.app)).status, 200, 'the service is healthy')
})
