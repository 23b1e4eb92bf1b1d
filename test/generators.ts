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
