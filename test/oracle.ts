/**
 * Expected answers written apart from the code under test: a plain JSON reader that keeps every
 * number's text and every key (in order, `__proto__` included), and a plain recursive walk that says
 * what a mint may change in a work. Kept small enough to read; it shares nothing with src/.
 */

export type Tree =
  | { kind: 'object'; entries: Array<[string, Tree]> }
  | { kind: 'array'; items: Tree[] }
  | { kind: 'number'; text: string }
  | { kind: 'string'; value: string }
  | { kind: 'literal'; text: 'true' | 'false' | 'null' }

/** Reads JSON text into a tree: numbers keep their text, strings their decoded value, objects their key order. */
export function readTree(text: string): Tree {
  let at = 0
  const space = () => {
    while (at < text.length && ' \t\n\r'.includes(text[at] as string)) at++
  }
  const fail = (what: string): never => {
    throw new Error(`JSON: ${what} at ${at}: ${text.slice(at, at + 20)}`)
  }
  const value = (): Tree => {
    space()
    const c = text[at]
    if (c === '{') {
      at++
      const entries: Array<[string, Tree]> = []
      space()
      if (text[at] === '}') {
        at++
        return { kind: 'object', entries }
      }
      for (;;) {
        space()
        const key = value()
        if (key.kind !== 'string') fail('key')
        space()
        if (text[at++] !== ':') fail('colon')
        entries.push([(key as { value: string }).value, value()])
        space()
        const next = text[at++]
        if (next === '}') return { kind: 'object', entries }
        if (next !== ',') fail('comma')
      }
    }
    if (c === '[') {
      at++
      const items: Tree[] = []
      space()
      if (text[at] === ']') {
        at++
        return { kind: 'array', items }
      }
      for (;;) {
        items.push(value())
        space()
        const next = text[at++]
        if (next === ']') return { kind: 'array', items }
        if (next !== ',') fail('comma')
      }
    }
    if (c === '"') {
      const end = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(at))?.[0] ?? fail('string')
      at += end.length
      return { kind: 'string', value: JSON.parse(end) as string }
    }
    const number = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(at))?.[0]
    if (number) {
      at += number.length
      return { kind: 'number', text: number }
    }
    for (const literal of ['true', 'false', 'null'] as const) {
      if (text.startsWith(literal, at)) {
        at += literal.length
        return { kind: 'literal', text: literal }
      }
    }
    return fail('value')
  }
  const tree = value()
  space()
  if (at !== text.length) fail('trailing text')
  return tree
}

const get = (tree: Tree, key: string): Tree | undefined => (tree.kind === 'object' ? tree.entries.find(([k]) => k === key)?.[1] : undefined)

/**
 * Differences between a source work and its identified copy beyond the edits a mint makes to each
 * object carrying a sourceIdentifier: `canonicalId` added last (8 characters); a string
 * `identifiedType` removed and put in `type`; otherwise `type: "Identifiable"` becomes
 * `"Identified"`. Everything else, number literals spelt as they were, must be equal and in order.
 * Returns one line per difference, with its path; empty when the copy is exact.
 */
export function identifiedCopyProblems(source: Tree, identified: Tree, path = '$'): string[] {
  if (source.kind !== identified.kind) return [`${path}: ${source.kind} became ${identified.kind}`]
  if (source.kind === 'number' || source.kind === 'literal') {
    return source.text === (identified as typeof source).text ? [] : [`${path}: ${source.text} became ${(identified as typeof source).text}`]
  }
  if (source.kind === 'string') return source.value === (identified as typeof source).value ? [] : [`${path}: string changed`]
  if (source.kind === 'array') {
    const items = (identified as typeof source).items
    if (items.length !== source.items.length) return [`${path}: ${source.items.length} items became ${items.length}`]
    return source.items.flatMap((item, i) => identifiedCopyProblems(item, items[i] as Tree, `${path}[${i}]`))
  }
  const target = identified as typeof source
  let expected = source.entries
  if (source.entries.some(([k]) => k === 'sourceIdentifier')) {
    const identifiedType = get(source, 'identifiedType')
    const type = get(source, 'type')
    let newType: Tree | undefined
    if (identifiedType?.kind === 'string') {
      newType = identifiedType
      expected = expected.filter(([k]) => k !== 'identifiedType')
    } else if (type?.kind === 'string' && type.value === 'Identifiable') {
      newType = { kind: 'string', value: 'Identified' }
    }
    if (newType) expected = type ? expected.map(([k, v]) => [k, k === 'type' ? (newType as Tree) : v]) : [...expected, ['type', newType]]
    const canonicalId = target.entries.at(-1)
    if (canonicalId?.[0] !== 'canonicalId' || canonicalId[1].kind !== 'string' || !/^[a-z2-9]{8}$/.test(canonicalId[1].value)) {
      return [`${path}: no canonicalId as the last key`]
    }
    expected = [...expected, canonicalId]
  }
  const keys = (entries: Array<[string, Tree]>) => entries.map(([k]) => k).join(',')
  if (keys(expected) !== keys(target.entries)) return [`${path}: keys ${keys(target.entries)}, expected ${keys(expected)}`]
  return expected.flatMap(([key, value], i) => identifiedCopyProblems(value, (target.entries[i] as [string, Tree])[1], `${path}.${key}`))
}

/**
 * The identifiable nodes of a work, read straight from README's contract by a plain recursive walk
 * (kept apart from src/services/work-identifiers.ts, whose explicit-stack walker it checks):
 * - a node is any object with an own `sourceIdentifier` key, at any depth, the work itself included;
 * - the walk does not look inside a node's `sourceIdentifier` or `predecessorIdentifier`;
 * - a node's key is (ontologyType, identifierType.id, value), the Concept subtypes stored as Concept;
 *   a `predecessorIdentifier` that is not null names its predecessor, read the same way;
 * - each of the three is a non-empty, well-formed string of at most 64, 255 and 1020 UTF-8 bytes (the
 *   VARBINARY columns of migrations/0000_initial.sql), read from the identifier's own fields only;
 * - the root is `state` when the work has an own `state` key, otherwise the work itself.
 */
export interface IdentifierKey {
  ontologyType: string
  sourceSystem: string
  sourceId: string
}

export interface WorkNode {
  /** Where the node sits: $, then .name, ["odd name"] or [index]. */
  path: string
  node: Record<string, unknown>
  /** Absent when the node's sourceIdentifier is malformed (see `problems`). */
  key?: IdentifierKey
  predecessor?: IdentifierKey
}

/** One reason an identifier is malformed: where it is, which of its fields, and what is wrong. */
export interface IdentifierProblem {
  /** The identifier's path: the node's path and `.sourceIdentifier` or `.predecessorIdentifier`. */
  at: string
  /** '' for the identifier itself; otherwise identifierType, identifierType.id, ontologyType or value. */
  field: string
  why: 'not an object' | 'not a non-empty string' | 'not well-formed' | 'too long'
}

export interface WorkReading {
  nodes: WorkNode[]
  /** The root node, if the root object is a node. */
  root?: WorkNode
  /** Every malformation in every identifier, in document order; a mint of the work fails if there is one. */
  problems: IdentifierProblem[]
  /** False when the work is not a JSON object (then it has no nodes). */
  isObject: boolean
}

const CONCEPTS = ['Person', 'Organisation', 'Place', 'Agent', 'Meeting', 'Genre', 'Period']
const MAX_BYTES = { ontologyType: 64, 'identifierType.id': 255, value: 1020 } as const

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const own = (object: Record<string, unknown>, key: string): unknown => (Object.hasOwn(object, key) ? object[key] : undefined)
const step = (key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)

function readIdentifier(value: unknown, at: string, problems: IdentifierProblem[]): IdentifierKey | undefined {
  if (!isPlainObject(value)) {
    problems.push({ at, field: '', why: 'not an object' })
    return undefined
  }
  const before = problems.length
  const text = (field: keyof typeof MAX_BYTES, text: unknown): string => {
    if (typeof text !== 'string' || text === '') problems.push({ at, field, why: 'not a non-empty string' })
    else if (!text.isWellFormed()) problems.push({ at, field, why: 'not well-formed' })
    else if (new TextEncoder().encode(text).length > MAX_BYTES[field]) problems.push({ at, field, why: 'too long' })
    return text as string
  }
  const identifierType = own(value, 'identifierType')
  if (!isPlainObject(identifierType)) problems.push({ at, field: 'identifierType', why: 'not an object' })
  const ontologyType = text('ontologyType', own(value, 'ontologyType'))
  const sourceSystem = isPlainObject(identifierType) ? text('identifierType.id', own(identifierType, 'id')) : ''
  const sourceId = text('value', own(value, 'value'))
  if (problems.length > before) return undefined
  return { ontologyType: CONCEPTS.includes(ontologyType) ? 'Concept' : ontologyType, sourceSystem, sourceId }
}

export function readWork(work: unknown): WorkReading {
  const reading: WorkReading = { nodes: [], problems: [], isObject: isPlainObject(work) }
  if (!isPlainObject(work)) return reading
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) return value.forEach((item, i) => walk(item, `${path}[${i}]`))
    if (!isPlainObject(value)) return
    const isNode = Object.hasOwn(value, 'sourceIdentifier')
    if (isNode) {
      const found: WorkNode = { path, node: value }
      const key = readIdentifier(value.sourceIdentifier, `${path}.sourceIdentifier`, reading.problems)
      if (key) found.key = key
      const predecessor = own(value, 'predecessorIdentifier')
      if (predecessor !== undefined && predecessor !== null) {
        const predecessorKey = readIdentifier(predecessor, `${path}.predecessorIdentifier`, reading.problems)
        if (predecessorKey) found.predecessor = predecessorKey
      }
      reading.nodes.push(found)
    }
    for (const key of Object.keys(value)) {
      if (isNode && (key === 'sourceIdentifier' || key === 'predecessorIdentifier')) continue
      walk(value[key], `${path}${step(key)}`)
    }
  }
  walk(work, '$')
  const rootObject = Object.hasOwn(work, 'state') ? work.state : work
  const root = reading.nodes.find((n) => n.node === rootObject)
  if (root) reading.root = root
  return reading
}
