import { limits } from './identifier-store/limits.js'
import { keyOf, type IdentifierKey } from './identifier-store/keys.js'

/** Agents, places and the like are one kind of thing to the catalogue: they share canonical IDs. */
export const CONCEPT_SUBTYPES: readonly string[] = ['Person', 'Organisation', 'Place', 'Agent', 'Meeting', 'Genre', 'Period']
const CONCEPT_TYPES = new Set(CONCEPT_SUBTYPES)

/** The ontology type an identifier is stored under: `Concept` for a Concept subtype (exact, case-sensitive match), otherwise the type itself. */
export function storedOntologyType(ontologyType: string): string {
  return CONCEPT_TYPES.has(ontologyType) ? 'Concept' : ontologyType
}

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

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Every object and array a walk has visited, as (parent, step) pairs in two flat arrays: a path
 * is only spelt out when an error message needs one, so the walk keeps no object per visit.
 */
class Trail {
  readonly parents: number[] = []
  readonly steps: Array<string | number> = []

  add(parent: number, step: string | number): number {
    this.parents.push(parent)
    this.steps.push(step)
    return this.parents.length - 1
  }

  /** $, then .name, ["odd name"] or [index] for each step from the root down to the entry. */
  pathOf(at: number): string {
    const steps: string[] = []
    for (let i = at; this.parents[i] !== -1; i = this.parents[i] as number) {
      const step = this.steps[i] as string | number
      steps.push(typeof step === 'number' ? `[${step}]` : /^[A-Za-z_$][\w$]*$/.test(step) ? `.${step}` : `[${JSON.stringify(step)}]`)
    }
    return `$${steps.reverse().join('')}`
  }
}

class MalformedIdentifier extends Error {}

/** A node found in a work. Its path is only worked out when something asks for it (error messages). */
class FoundNode implements IdentifiableNode {
  readonly keyId: string
  predecessor?: IdentifierKey
  predecessorKeyId?: string
  #trail: Trail | undefined
  #at: number
  #path: string | undefined

  constructor(
    readonly node: JsonObject,
    readonly key: IdentifierKey,
    predecessor: IdentifierKey | undefined,
    trail: Trail,
    at: number,
  ) {
    this.keyId = keyOf(key)
    if (predecessor) {
      this.predecessor = predecessor
      this.predecessorKeyId = keyOf(predecessor)
    }
    this.#trail = trail
    this.#at = at
  }

  get path(): string {
    if (this.#path === undefined) {
      this.#path = (this.#trail as Trail).pathOf(this.#at)
      this.#trail = undefined
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
    ontologyType: storedOntologyType(ontologyType),
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
  const trail = new Trail()
  // The objects and arrays still to visit, with where they sit (their parent's trail entry and
  // the key or index under it), in three parallel stacks; pushed in reverse so that they are
  // visited in document order.
  const values: object[] = [work]
  const parents: number[] = [-1]
  const steps: Array<string | number> = ['']
  while (values.length > 0) {
    const value = values.pop() as object
    const at = trail.add(parents.pop() as number, steps.pop() as string | number)
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        const child: unknown = value[i]
        if (typeof child === 'object' && child !== null) {
          values.push(child)
          parents.push(at)
          steps.push(i)
        }
      }
      continue
    }
    const object = value as JsonObject
    const hasIdentifier = Object.hasOwn(object, 'sourceIdentifier')
    if (hasIdentifier) {
      const node = parseNode(object, trail, at)
      if ('reason' in node) return { ok: false, reason: node.reason }
      nodes.push(node)
    }
    const keys = Object.keys(object)
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string
      // The identifiers themselves are data about the node, not content to look inside.
      if (hasIdentifier && (key === 'sourceIdentifier' || key === 'predecessorIdentifier')) continue
      const child = object[key]
      if (typeof child === 'object' && child !== null) {
        values.push(child)
        parents.push(at)
        steps.push(key)
      }
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

function parseNode(object: JsonObject, trail: Trail, at: number): IdentifiableNode | { reason: string } {
  let field = 'sourceIdentifier'
  try {
    const key = identifierKey(object.sourceIdentifier)
    const predecessorValue = object.predecessorIdentifier
    field = 'predecessorIdentifier'
    const predecessor = predecessorValue === undefined || predecessorValue === null ? undefined : identifierKey(predecessorValue)
    return new FoundNode(object, key, predecessor, trail, at)
  } catch (error) {
    if (!(error instanceof MalformedIdentifier)) throw error
    return { reason: `malformed ${field} at ${trail.pathOf(at)}.${field}: ${error.message}` }
  }
}

/**
 * Writes each node's canonical ID into it and promotes its type: `identifiedType` when given,
 * otherwise Identifiable becomes Identified. Nothing else in the work changes.
 */
export function embedCanonicalIds(nodes: IdentifiableNode[], canonicalIdOf: (node: IdentifiableNode) => string): void {
  for (const entry of nodes) {
    const node = entry.node
    if (typeof node.identifiedType === 'string') {
      node.type = node.identifiedType
      delete node.identifiedType
    } else if (node.type === 'Identifiable') {
      node.type = 'Identified'
    }
    // Last, so that a node's own fields keep their order and the one added field follows them.
    node.canonicalId = canonicalIdOf(entry)
  }
}
