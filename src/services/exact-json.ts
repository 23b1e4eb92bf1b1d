import { errors, Serializer } from '@elastic/elasticsearch'

declare global {
  interface JSON {
    /** Node 22+: an object that JSON.stringify writes as this text, unchanged (a JSON primitive's text). */
    rawJSON(text: string): object
  }
}

/**
 * A number token, as it can only appear in JSON: after `:`, `[` or `,` and before `,`, `]` or `}`
 * (whitespace aside). Every number token of a JSON text matches; text inside a string can match
 * too, which only costs the exact parse below.
 */
const NUMBER_TOKEN = /(?<=[:[,]\s*)-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?=\s*[,\]}])/g

/**
 * Whether JSON.parse and JSON.stringify would change a number literal of this text: an integer
 * beyond 2^53, an exponent, a trailing zero (1.0), -0, more digits than a double keeps. A literal
 * survives the round trip exactly when it is JavaScript's own spelling of its value.
 */
export function hasInexactNumbers(text: string): boolean {
  for (const [literal] of text.matchAll(NUMBER_TOKEN)) if (String(Number(literal)) !== literal) return true
  return false
}

/** JSON.parse's reviver (Node 22+ passes each primitive's source text) that keeps a literal's text where its value would not. */
function keepLiteral(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && context?.source !== undefined && String(value) !== context.source) return JSON.rawJSON(context.source)
  return value
}

/**
 * JSON.parse that keeps every number literal exactly: a literal whose text is not JavaScript's
 * spelling of its value becomes JSON.rawJSON(text), which JSON.stringify writes back unchanged, so
 * a document read and written again holds the same literals (`12345678901234567890`, `1.0`,
 * `1e5`, `-0`). Texts without such a literal (almost all) take plain JSON.parse.
 */
export function parseExact(text: string): unknown {
  return hasInexactNumbers(text) ? JSON.parse(text, keepLiteral) : JSON.parse(text)
}

/**
 * The Elasticsearch client's serializer with parseExact for responses: works read from an index
 * and written to another keep their number literals (Elasticsearch stores _source as it was sent).
 * Requests are serialised as before: JSON.stringify already writes the raw literals.
 */
export class ExactNumberSerializer extends Serializer {
  override deserialize<T = unknown>(json: string): T {
    try {
      return parseExact(json) as T
    } catch (error) {
      throw new errors.DeserializationError((error as Error).message, json)
    }
  }
}
