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
      if (text[at] === '}') return at++, { kind: 'object', entries }
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
      if (text[at] === ']') return at++, { kind: 'array', items }
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
    if (number) return (at += number.length), { kind: 'number', text: number }
    for (const literal of ['true', 'false', 'null'] as const) if (text.startsWith(literal, at)) return (at += literal.length), { kind: 'literal', text: literal }
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
