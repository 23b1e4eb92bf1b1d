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

/** One SQL statement and its values, for mysql2's query(). */
export interface Statement {
  sql: string
  values: unknown[]
}

/**
 * Statements that read the rows of `select` (a SELECT … FROM identifiers without WHERE) for these
 * keys: grouped by ontology type and system, each key once, at most `maxKeys` values a statement.
 * `(OntologyType = ? AND SourceSystem = ? AND SourceId IN (…)) OR …` is a range read on the primary
 * key (OntologyType, SourceSystem, SourceId) in MySQL 8 and MariaDB alike, up to 50M rows
 * (`npm run bench -- --workload scale` reports the EXPLAIN of each shape). Used by the minter's
 * store and by the read-only look-ups.
 */
export function keyLookupStatements(select: string, keys: IdentifierKey[], maxKeys: number): Statement[] {
  const groups = new Map<string, { ontologyType: string; sourceSystem: string; sourceIds: Set<string> }>()
  for (const key of keys) {
    const groupKey = keyOf({ ontologyType: key.ontologyType, sourceSystem: key.sourceSystem, sourceId: '' })
    let group = groups.get(groupKey)
    if (!group) groups.set(groupKey, (group = { ontologyType: key.ontologyType, sourceSystem: key.sourceSystem, sourceIds: new Set() }))
    group.sourceIds.add(key.sourceId)
  }
  const statements: Statement[] = []
  let conditions: string[] = []
  let values: unknown[] = []
  let count = 0
  const flush = () => {
    statements.push({ sql: `${select} WHERE ${conditions.join(' OR ')}`, values })
    conditions = []
    values = []
    count = 0
  }
  for (const group of groups.values()) {
    const sourceIds = [...group.sourceIds]
    for (let at = 0; at < sourceIds.length;) {
      if (count === maxKeys) flush()
      const slice = sourceIds.slice(at, at + maxKeys - count)
      at += slice.length
      count += slice.length
      conditions.push('(OntologyType = ? AND SourceSystem = ? AND SourceId IN (?))')
      values.push(group.ontologyType, group.sourceSystem, slice)
    }
  }
  if (conditions.length > 0) flush()
  return statements
}
