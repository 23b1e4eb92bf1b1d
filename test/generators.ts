/**
 * fast-check generators shared by the property tests: JSON number literals of every spelling, and
 * works whose text is written literal by literal (as another system would write it), with Unicode,
 * nesting and awkward keys. The works are Trees (test/oracle.ts), so their exact text is known.
 */
import fc from 'fast-check'
import type { Tree } from './oracle.js'

/** A JSON number literal: big integers, trailing zeros, exponents, negative zero, long decimals, ordinary values. */
export const numberLiteral: fc.Arbitrary<string> = fc.oneof(
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.tuple(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.integer({ min: 1, max: 4 })).map(([i, zeros]) => `${i}.${'0'.repeat(zeros)}`),
  fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.stringMatching(/^\d{1,25}$/)).map(([i, digits]) => `${i}.${digits}`),
  fc
    .tuple(fc.integer({ min: -999, max: 999 }), fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 300 }))
    .map(([m, e, sign, x]) => `${m}${e}${sign}${x}`),
  fc.constantFrom('-0', '0', '-0.0', '0.1', '1.0', '1e5', '9007199254740993', '-9223372036854775808', '18446744073709551615'),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
)

/** Keys a mint reads or writes; elsewhere in a work they would change what the mint does. */
const RESERVED = new Set(['sourceIdentifier', 'predecessorIdentifier', 'identifiedType', 'type', 'canonicalId'])
const key = fc
  .oneof(fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'ünïcødé', '😀'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }))
  .filter((k) => !RESERVED.has(k) && k.trim() !== '' && !k.includes('.'))

const leaf: fc.Arbitrary<Tree> = fc.oneof(
  numberLiteral.map((text): Tree => ({ kind: 'number', text })),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map((value): Tree => ({ kind: 'string', value })),
  fc.constantFrom<Tree>({ kind: 'literal', text: 'true' }, { kind: 'literal', text: 'false' }, { kind: 'literal', text: 'null' }),
)

/** Arbitrary JSON content (no identifiers in it), nested a few levels. */
export const content: fc.Arbitrary<Tree> = fc.letrec<{ value: Tree }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }).map((items): Tree => ({ kind: 'array', items })),
    fc.uniqueArray(fc.tuple(key, tie('value')), { maxLength: 4, selector: ([k]) => k }).map((entries): Tree => ({ kind: 'object', entries })),
  ),
})).value

const str = (value: string): Tree => ({ kind: 'string', value })
const obj = (...entries: Array<[string, Tree]>): Tree => ({ kind: 'object', entries })
const arr = (...items: Tree[]): Tree => ({ kind: 'array', items })
const identifier = (type: string, ontologyType: string, value: string) =>
  obj(['identifierType', obj(['id', str(type)])], ['ontologyType', str(ontologyType)], ['value', str(value)])

/**
 * A work shaped like the pipeline's (state.sourceIdentifier, an item, a subject with identifiedType,
 * a contributor without a type) around arbitrary content, made for a source identifier value.
 */
export function workTree(): fc.Arbitrary<(value: string) => Tree> {
  return fc
    .record({
      notes: content,
      extra: content,
      nodeExtra: content,
      modified: fc.date({ min: new Date('2000-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }),
    })
    .map(({ notes, extra, nodeExtra, modified }) => (value: string) =>
      obj(
        ['state', obj(['sourceIdentifier', identifier('sierra-system-number', 'Work', value)], ['sourceModifiedTime', str(modified.toISOString())], ['notes', notes])],
        [
          'data',
          obj(
            ['extra', extra],
            ['items', arr(obj(['id', obj(['type', str('Identifiable')], ['sourceIdentifier', identifier('sierra-system-number', 'Item', `${value}-i`)], ['more', nodeExtra])]))],
            ['subjects', arr(obj(['id', obj(['type', str('Identifiable')], ['identifiedType', str('Subject')], ['sourceIdentifier', identifier('lc-subjects', 'Subject', `${value}-s`)])], ['label', str('Ünïcode ✓')]))],
            ['contributors', arr(obj(['agent', obj(['sourceIdentifier', identifier('lc-names', 'Person', `${value}-p`)], ['label', str('A person')])]))],
          ),
        ],
      ),
    )
}

/** JSON text of a tree, every number written as its literal. */
export function writeTree(tree: Tree): string {
  switch (tree.kind) {
    case 'number':
    case 'literal':
      return tree.text
    case 'string':
      return JSON.stringify(tree.value)
    case 'array':
      return `[${tree.items.map(writeTree).join(',')}]`
    case 'object':
      return `{${tree.entries.map(([k, v]) => `${JSON.stringify(k)}:${writeTree(v)}`).join(',')}}`
  }
}

// ---------------------------------------------------------------------------------------------
// Works as plain values with source identifiers well-formed or malformed in each way a mint
// refuses (README: "a malformed sourceIdentifier"), predecessors and identifiedType: for properties
// of the walk over a work, whose expected verdict test/oracle.ts's readWork gives.

/** Text of exactly `bytes` UTF-8 bytes, in characters of 1 to 4 bytes. */
const textOfBytes = (bytes: number) =>
  fc.constantFrom('x', 'é', '€', '🙂').map((c) => c.repeat(Math.floor(bytes / Buffer.byteLength(c))) + 'x'.repeat(bytes % Buffer.byteLength(c)))

/** A key left out of the object it was generated for. */
const ABSENT = Symbol('absent')
const withoutAbsent = (entries: Array<[string, unknown]>): Record<string, unknown> => {
  const object: Record<string, unknown> = {}
  // defineProperty: a generated "__proto__" becomes an own key, as JSON.parse makes it.
  for (const [k, v] of entries) if (v !== ABSENT) Object.defineProperty(object, k, { value: v, enumerable: true, writable: true, configurable: true })
  return object
}

const goodText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((s) => s.isWellFormed())
const ontologyTypes = fc.oneof(
  fc.constantFrom('Work', 'Item', 'Subject', 'Concept', 'Person', 'Organisation', 'Place', 'Agent', 'Meeting', 'Genre', 'Period', 'person', 'Agents', 'Image'),
  goodText,
)

/** Each way a field of an identifier is malformed: empty, missing, not a string, a lone surrogate, one byte too long. */
function malformedText(good: fc.Arbitrary<string>, maxBytes: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constant(''),
    fc.constant(ABSENT),
    fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant(['x']), fc.constant({ id: 'x' })),
    fc.tuple(good, fc.integer({ min: 0xd800, max: 0xdfff }), fc.boolean()).map(([s, unit, before]) => (before ? String.fromCharCode(unit) + s : s + String.fromCharCode(unit))),
    textOfBytes(maxBytes + 1),
  )
}

/** A field that is well-formed: short, or exactly at the column's byte limit. */
const wellFormedText = (good: fc.Arbitrary<string>, maxBytes: number) =>
  fc.oneof({ withCrossShrink: true }, { weight: 20, arbitrary: good }, { weight: 1, arbitrary: textOfBytes(maxBytes) })

/** An object with a sourceIdentifier that sits inside an identifier: data about a node, not a node (a mint does not look inside). */
const innerNode = fc.constantFrom<unknown>(
  [{ type: 'Identifiable', sourceIdentifier: { identifierType: { id: 'inner' }, ontologyType: 'Work', value: 'inside' } }],
  { sourceIdentifier: 'not even an identifier' },
)

const identifierOf = (identifierType: fc.Arbitrary<unknown>, ontologyType: fc.Arbitrary<unknown>, value: fc.Arbitrary<unknown>) =>
  fc
    .tuple(identifierType, ontologyType, value, fc.boolean(), fc.oneof({ withCrossShrink: true }, { weight: 12, arbitrary: fc.constant(ABSENT) }, { weight: 1, arbitrary: innerNode }))
    .map(([type, ontologyType, value, typeFirst, inner]) =>
      withoutAbsent([
        ...((typeFirst
          ? [['identifierType', type], ['ontologyType', ontologyType], ['value', value]]
          : [['value', value], ['ontologyType', ontologyType], ['identifierType', type]]) as Array<[string, unknown]>),
        ['otherIdentifiers', inner],
      ]),
    )

const goodId = wellFormedText(goodText, 255)
const goodOntologyType = wellFormedText(ontologyTypes, 64)
const goodValue = wellFormedText(goodText, 1020)

/** A well-formed sourceIdentifier (identifierType.id up to 255 bytes, ontologyType 64, value 1020). */
export const wellFormedIdentifier: fc.Arbitrary<unknown> = identifierOf(goodId.map((id) => ({ id })), goodOntologyType, goodValue)

/** A malformed sourceIdentifier: not an object, identifierType not an object, or one of its three texts malformed. */
export const malformedIdentifier: fc.Arbitrary<unknown> = fc.oneof(
  fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.constant(null), fc.constant(true), fc.constant([]), wellFormedIdentifier.map((i) => [i])),
  identifierOf(fc.constantFrom<unknown>(ABSENT, 'sierra', null, [], 7), goodOntologyType, goodValue),
  identifierOf(malformedText(goodText, 255).map((id) => withoutAbsent([['id', id]])), goodOntologyType, goodValue),
  identifierOf(goodId.map((id) => ({ id })), malformedText(ontologyTypes, 64), goodValue),
  identifierOf(goodId.map((id) => ({ id })), goodOntologyType, malformedText(goodText, 1020)),
)

/** Keys of plain content: awkward ones, and the node keys that make a plain object a node. */
const contentKey = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 5 }).filter((k) => !['type', 'identifiedType', 'canonicalId'].includes(k)) },
  { weight: 2, arbitrary: fc.constantFrom('__proto__', 'constructor', 'a b', '', '0', 'état', 'state', 'data', 'items') },
  { weight: 1, arbitrary: fc.constantFrom('sourceIdentifier', 'predecessorIdentifier') },
)

/**
 * A source work: mostly the pipeline's shape ({state: node, data}) or a node at the root, around
 * nested content holding more nodes; about one identifier in twenty is malformed. A plain value,
 * without shared references, that JSON.stringify writes exactly (lone surrogates escaped).
 */
export function sourceWork(): fc.Arbitrary<unknown> {
  const { tree, node } = fc.letrec<{ tree: unknown; node: unknown }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.jsonValue({ maxDepth: 1 }),
      fc.array(tie('tree'), { maxLength: 4 }),
      fc.uniqueArray(fc.tuple(contentKey, tie('tree')), { maxLength: 4, selector: ([k]) => k }).map(withoutAbsent),
      tie('node'),
    ),
    node: fc
      .record({
        sourceIdentifier: fc.oneof({ weight: 12, arbitrary: wellFormedIdentifier }, { weight: 1, arbitrary: malformedIdentifier }),
        predecessorIdentifier: fc.oneof(
          { weight: 8, arbitrary: fc.constant<unknown>(ABSENT) },
          { weight: 1, arbitrary: fc.constant(null) },
          { weight: 4, arbitrary: wellFormedIdentifier },
          { weight: 1, arbitrary: malformedIdentifier },
        ),
        type: fc.constantFrom<unknown>(ABSENT, 'Identifiable', 'Identifiable', 'Identified', 'Other'),
        identifiedType: fc.oneof(
          { weight: 4, arbitrary: fc.constant<unknown>(ABSENT) },
          { weight: 2, arbitrary: fc.constantFrom('Subject', 'Concept', 'Person', 'Identifiable') },
          { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 7, ['Subject'], { type: 'Subject' }) },
        ),
        child: tie('tree'),
        childFirst: fc.boolean(),
      })
      .map(({ childFirst, child, sourceIdentifier, ...rest }) =>
        withoutAbsent([
          ...(childFirst ? [['child', child] as [string, unknown]] : []),
          ['sourceIdentifier', sourceIdentifier],
          ...Object.entries(rest),
          ...(childFirst ? [] : [['child', child] as [string, unknown]]),
        ]),
      ),
  }))
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ state: node, data: tree }) },
    { weight: 2, arbitrary: node },
    { weight: 1, arbitrary: fc.record({ state: tree, data: tree }) },
    { weight: 1, arbitrary: tree },
  )
}
