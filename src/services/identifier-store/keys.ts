export interface IdentifierKey {
  ontologyType: string
  sourceSystem: string
  sourceId: string
}

/** An unambiguous string form of a key (length-prefixed, so no separator can collide). */
export function keyOf(key: IdentifierKey): string {
  return `${key.ontologyType.length}:${key.ontologyType}${key.sourceSystem.length}:${key.sourceSystem}${key.sourceId}`
}

export function compareKeys(a: IdentifierKey, b: IdentifierKey): number {
  return (
    compareStrings(a.ontologyType, b.ontologyType) ||
    compareStrings(a.sourceSystem, b.sourceSystem) ||
    compareStrings(a.sourceId, b.sourceId)
  )
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export function describeKey(key: IdentifierKey): string {
  return `${key.ontologyType}[${key.sourceSystem}/${key.sourceId}]`
}
