import { limits } from './identifier-store/schema.js'
import { keyOf, type IdentifierKey } from './identifier-store/keys.js'

/** Agents, places and the like are one kind of thing to the catalogue: they share canonical IDs. */
const CONCEPT_TYPES = new Set(['Person', 'Organisation', 'Place', 'Agent', 'Meeting', 'Genre', 'Period'])

type JsonObject = Record<string, unknown>

export interface IdentifiableNode {
  /** The object inside the work that receives `canonicalId`. */
  node: JsonObject
  key: IdentifierKey
  /** keyOf(key), computed once: the minter looks every node up by it several times. */
  keyId: string
  predecessor?: IdentifierKey
  /** keyOf(predecessor), when there is one. */
  predecessorKeyId?: string
  /** Where the node sits in the work, as a JSON path ($.data.items[0].id); only error messages read it. */
  readonly path: string
}

export type WorkAnalysis =
  | { ok: true; nodes: IdentifiableNode[]; root: IdentifiableNode }
  | { ok: false; reason: string }

interface Frame {
  value: unknown
  parent: Frame | undefined
  step: string | number
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function pathOf(frame: Frame | undefined): string {
  const steps: string[] = []
  for (let f = frame; f?.parent; f = f.parent) {
    steps.push(
      typeof f.step === 'number' ? `[${f.step}]` : /^[A-Za-z_$][\w$]*$/.test(f.step) ? `.${f.step}` : `[${JSON.stringify(f.step)}]`,
    )
  }
  return `$${steps.reverse().join('')}`
}

class MalformedIdentifier extends Error {}

/** A node found in a work. Its path is only worked out when something asks for it (error messages). */
class FoundNode implements IdentifiableNode {
  readonly keyId: string
  predecessor?: IdentifierKey
  predecessorKeyId?: string
  #frame: Frame | undefined
  #path: string | undefined

  constructor(
    readonly node: JsonObject,
    readonly key: IdentifierKey,
    predecessor: IdentifierKey | undefined,
    frame: Frame,
  ) {
    this.keyId = keyOf(key)
    if (predecessor) {
      this.predecessor = predecessor
      this.predecessorKeyId = keyOf(predecessor)
    }
    this.#frame = frame
  }

  get path(): string {
    if (this.#path === undefined) {
      this.#path = pathOf(this.#frame)
      this.#frame = undefined
    }
    return this.#path
  }
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}

function requireText(value: unknown, field: string, maxBytes: number): string {
  if (typeof value !== 'string' || value.length === 0) throw new MalformedIdentifier(`${field} must be a non-empty string`)
  // A lone surrogate cannot be stored as UTF-8 without changing it into another identifier.
  if (!value.isWellFormed()) throw new MalformedIdentifier(`${field} is not well-formed Unicode`)
  // No UTF-16 code unit takes more than 3 bytes in UTF-8, so short text needs no counting.
  if (value.length * 3 > maxBytes && byteLength(value) > maxBytes) throw new MalformedIdentifier(`${field} is longer than ${maxBytes} bytes`)
  return value
}

/** Turns a sourceIdentifier object into the key it is stored under. */
export function identifierKey(value: unknown): IdentifierKey {
  if (!isObject(value)) throw new MalformedIdentifier('must be an object')
  const identifierType = value.identifierType
  if (!isObject(identifierType)) throw new MalformedIdentifier('identifierType must be an object')
  const ontologyType = requireText(value.ontologyType, 'ontologyType', limits.ontologyType)
  return {
    ontologyType: CONCEPT_TYPES.has(ontologyType) ? 'Concept' : ontologyType,
    sourceSystem: requireText(identifierType.id, 'identifierType.id', limits.sourceSystem),
    sourceId: requireText(value.value, 'value', limits.sourceId),
  }
}

/**
 * Finds every object in a work that carries a `sourceIdentifier` (the root included), at any depth.
 * The walk keeps its own stack, so a deeply nested document cannot overflow the call stack.
 */
export function findIdentifiableNodes(work: unknown): WorkAnalysis {
  if (!isObject(work)) return { ok: false, reason: 'the source document is not a JSON object' }
  const nodes: IdentifiableNode[] = []
  const stack: Frame[] = [{ value: work, parent: undefined, step: '' }]
  while (stack.length > 0) {
    const frame = stack.pop() as Frame
    const value = frame.value
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        if (typeof value[i] === 'object' && value[i] !== null) stack.push({ value: value[i], parent: frame, step: i })
      }
      continue
    }
    const object = value as JsonObject
    const hasIdentifier = Object.hasOwn(object, 'sourceIdentifier')
    if (hasIdentifier) {
      const node = parseNode(object, frame)
      if ('reason' in node) return { ok: false, reason: node.reason }
      nodes.push(node)
    }
    const keys = Object.keys(object)
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string
      // The identifiers themselves are data about the node, not content to look inside.
      if (hasIdentifier && (key === 'sourceIdentifier' || key === 'predecessorIdentifier')) continue
      const child = object[key]
      if (typeof child === 'object' && child !== null) stack.push({ value: child, parent: frame, step: key })
    }
  }
  const rootObject = Object.hasOwn(work, 'state') ? work.state : work
  const root = nodes.find((n) => n.node === rootObject)
  if (!root) {
    const where = Object.hasOwn(work, 'state') ? 'state.sourceIdentifier' : 'sourceIdentifier'
    return { ok: false, reason: `the work has no root identifier (${where})` }
  }
  return { ok: true, nodes, root }
}

function parseNode(object: JsonObject, frame: Frame): IdentifiableNode | { reason: string } {
  let field = 'sourceIdentifier'
  try {
    const key = identifierKey(object.sourceIdentifier)
    const predecessorValue = object.predecessorIdentifier
    field = 'predecessorIdentifier'
    const predecessor = predecessorValue === undefined || predecessorValue === null ? undefined : identifierKey(predecessorValue)
    return new FoundNode(object, key, predecessor, frame)
  } catch (error) {
    if (!(error instanceof MalformedIdentifier)) throw error
    return { reason: `malformed ${field} at ${pathOf(frame)}.${field}: ${error.message}` }
  }
}

/**
 * Writes each node's canonical ID into it and promotes its type: `identifiedType` when given,
 * otherwise Identifiable becomes Identified. Nothing else in the work changes.
 */
export function embedCanonicalIds(nodes: IdentifiableNode[], canonicalIdOf: (node: IdentifiableNode) => string): void {
  for (const entry of nodes) {
    const node = entry.node
    node.canonicalId = canonicalIdOf(entry)
    if (typeof node.identifiedType === 'string') {
      node.type = node.identifiedType
      delete node.identifiedType
    } else if (node.type === 'Identifiable') {
      node.type = 'Identified'
    }
  }
}
