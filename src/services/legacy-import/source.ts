import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise'

/** The legacy database an import reads from, as given by `--source mysql://user:password@host:port/database`. */
export interface LegacySource {
  host: string
  port: number
  user: string
  password: string
  database: string
  /** The table holding the mappings (`--table`, default `identifiers`). */
  table: string
}

/** The four columns every legacy layout has, by their legacy names. */
export const MAPPING_COLUMNS = ['OntologyType', 'SourceSystem', 'SourceId', 'CanonicalId'] as const
export type MappingColumn = (typeof MAPPING_COLUMNS)[number]

// Names end up between backticks in SQL: anything that could close the quote is refused here.
const NAME = /^[A-Za-z0-9_$-]{1,64}$/

/**
 * Parses `mysql://user:password@host:port/database` (port 3306 when omitted; user and password
 * percent-decoded). Throws an Error naming what is wrong with the URL or the table name.
 */
export function parseSource(url: string, table = 'identifiers'): LegacySource {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error('--source is not a URL: expected mysql://user:password@host:port/database')
  }
  if (parsed.protocol !== 'mysql:') throw new Error(`--source must be a mysql:// URL, not ${parsed.protocol}//`)
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''))
  if (!NAME.test(database)) throw new Error(`--source must name the legacy database (letters, digits, _ $ -), not "${database}"`)
  if (!NAME.test(table)) throw new Error(`--table must be a table name (letters, digits, _ $ -), not "${table}"`)
  if (!parsed.hostname) throw new Error('--source must name a host')
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database,
    table,
  }
}

/** host:port/database.table, without credentials: how reports and the progress table name a source. */
export function describeSource(source: LegacySource): string {
  return `${source.host}:${source.port}/${source.database}.${source.table}`
}

/** A small pool on the legacy database: one connection reads batches while another answers checks. */
export function openSource(source: LegacySource): Pool {
  return mysql.createPool({
    host: source.host,
    port: source.port,
    user: source.user,
    password: source.password,
    database: source.database,
    // Results arrive as UTF-8 whatever the columns' charset; the SQL converts explicitly as well.
    charset: 'utf8mb4',
    connectTimeout: 5000,
    connectionLimit: 2,
    maxIdle: 2,
  })
}

export interface LegacyColumn {
  /** The column's name as the legacy table spells it. */
  name: string
  dataType: string
  charset: string
  collation: string
  nullable: boolean
}

export interface LegacyLayout {
  /**
   * `single-table`: the Scala pipeline's, one table with CanonicalId as its primary key, so no
   * canonical ID has two keys. `two-table`: its successor's, `canonical_ids` beside `identifiers`,
   * where predecessors may share a canonical ID and canonical_ids may hold IDs no key uses.
   */
  kind: 'single-table' | 'two-table'
  /** The table holding the mappings. */
  table: string
  columns: Record<MappingColumn, LegacyColumn>
  /** The columns batches are paginated by, in index order: the primary key, or a unique key of NOT NULL columns. */
  paginationKey: MappingColumn[]
  /** Name of the index that provides the pagination order (PRIMARY or a unique key). */
  paginationIndex: string
  /**
   * A unique key on (OntologyType, SourceSystem, SourceId): unique under any collation means distinct
   * bytes, so only the Concept normalisation can turn two legacy rows into one key here.
   */
  uniqueOnKey: boolean
  /** two-table only: the canonical_ids table. */
  canonicalIds?: {
    table: string
    column: LegacyColumn
    /** Its Status column, if any: rows with Status 'free' were never given out and are not imported. */
    statusColumn?: string
    /** identifiers.CanonicalId is the first column of an index (finding IDs no key uses relies on it). */
    identifiersIndexed: boolean
  }
}

interface ColumnRow extends RowDataPacket {
  tableName: string
  columnName: string
  dataType: string
  charset: string | null
  collation: string | null
  nullable: string
}

interface IndexRow extends RowDataPacket {
  indexName: string
  nonUnique: number | string
  columnName: string
  subPart: number | null
}

/** A human sentence naming the layout found, its table(s), pagination key and charsets. */
export function describeLayout(layout: LegacyLayout): string {
  const name =
    layout.kind === 'single-table'
      ? `the Scala pipeline's one-table layout (${layout.table})`
      : `the successor's two-table layout (${layout.canonicalIds?.table} + ${layout.table})`
  const charsets = [...new Set(MAPPING_COLUMNS.map((c) => layout.columns[c].collation))].join(', ')
  return `${name}; batches follow ${layout.paginationIndex} (${layout.paginationKey.join(', ')}); text columns ${charsets}`
}

/**
 * Finds which legacy layout the source database holds, from information_schema: the mapping table
 * must have the four columns as text (char/varchar/text of any charset) and a primary or unique key
 * over some of them to paginate by; a `canonical_ids` table with a CanonicalId column beside it
 * makes it the two-table layout. Throws an Error saying what is missing.
 */
export async function detectLayout(pool: Pool, source: LegacySource): Promise<LegacyLayout> {
  const [columnRows] = await pool.query<ColumnRow[]>(
    `SELECT TABLE_NAME AS tableName, COLUMN_NAME AS columnName, DATA_TYPE AS dataType, CHARACTER_SET_NAME AS charset,
            COLLATION_NAME AS collation, IS_NULLABLE AS nullable
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, 'canonical_ids')`,
    [source.database, source.table],
  )
  const tableColumns = (table: string) => columnRows.filter((row) => row.tableName.toLowerCase() === table.toLowerCase())
  const mapping = tableColumns(source.table)
  if (mapping.length === 0) throw new Error(`${describeSource(source)}: no such table`)

  const column = (rows: ColumnRow[], name: string, table: string): LegacyColumn => {
    const row = rows.find((r) => r.columnName.toLowerCase() === name.toLowerCase())
    if (!row) throw new Error(`${source.database}.${table} has no ${name} column: not a legacy identifiers layout`)
    if (!row.charset || !row.collation) throw new Error(`${source.database}.${table}.${row.columnName} is ${row.dataType}, not a text column`)
    if (!NAME.test(row.columnName)) throw new Error(`${source.database}.${table} has a column name the import cannot quote: ${row.columnName}`)
    return { name: row.columnName, dataType: row.dataType, charset: row.charset, collation: row.collation, nullable: row.nullable === 'YES' }
  }
  const columns = Object.fromEntries(MAPPING_COLUMNS.map((name) => [name, column(mapping, name, source.table)])) as Record<MappingColumn, LegacyColumn>
  const table = mapping[0]?.tableName as string

  const indexes = await readIndexes(pool, source.database, table)
  const byName = (name: string) => MAPPING_COLUMNS.find((c) => columns[c].name.toLowerCase() === name.toLowerCase())
  const usable = [...indexes.entries()]
    .filter(([, index]) => index.unique && index.columns.every((c) => byName(c.name) !== undefined && c.subPart === null))
    .map(([name, index]) => ({ name, key: index.columns.map((c) => byName(c.name) as MappingColumn) }))
    .filter(({ key }) => key.every((c) => !columns[c].nullable))
  const pagination = usable.find((index) => index.name === 'PRIMARY') ?? usable[0]
  if (!pagination) throw new Error(`${describeSource(source)} has no primary key or unique key of NOT NULL mapping columns to read it in batches by`)
  const keyColumns: MappingColumn[] = ['OntologyType', 'SourceSystem', 'SourceId']
  const uniqueOnKey = usable.some(({ key }) => key.length === 3 && keyColumns.every((c) => key.includes(c)))

  const canonicalRows = tableColumns('canonical_ids')
  const hasCanonicalIds = canonicalRows.some((row) => row.columnName.toLowerCase() === 'canonicalid')
  if (!hasCanonicalIds || table.toLowerCase() === 'canonical_ids') {
    return { kind: 'single-table', table, columns, paginationKey: pagination.key, paginationIndex: pagination.name, uniqueOnKey }
  }
  const canonicalTable = canonicalRows[0]?.tableName as string
  const canonicalIndexes = await readIndexes(pool, source.database, canonicalTable)
  const canonicalColumn = column(canonicalRows, 'CanonicalId', canonicalTable)
  const primary = canonicalIndexes.get('PRIMARY')
  if (!primary || primary.columns.length !== 1 || primary.columns[0]?.name.toLowerCase() !== 'canonicalid') {
    throw new Error(`${source.database}.${canonicalTable} does not have CanonicalId as its primary key`)
  }
  return {
    kind: 'two-table',
    table,
    columns,
    paginationKey: pagination.key,
    paginationIndex: pagination.name,
    uniqueOnKey,
    canonicalIds: {
      table: canonicalTable,
      column: canonicalColumn,
      ...statusColumn(canonicalRows),
      identifiersIndexed: [...indexes.values()].some((index) => index.columns[0]?.name.toLowerCase() === 'canonicalid'),
    },
  }
}

function statusColumn(rows: ColumnRow[]): { statusColumn?: string } {
  const row = rows.find((r) => r.columnName.toLowerCase() === 'status' && NAME.test(r.columnName))
  return row ? { statusColumn: row.columnName } : {}
}

async function readIndexes(pool: Pool, database: string, table: string) {
  const [rows] = await pool.query<IndexRow[]>(
    `SELECT INDEX_NAME AS indexName, NON_UNIQUE AS nonUnique, COLUMN_NAME AS columnName, SUB_PART AS subPart
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [database, table],
  )
  const indexes = new Map<string, { unique: boolean; columns: Array<{ name: string; subPart: number | null }> }>()
  for (const row of rows) {
    let index = indexes.get(row.indexName)
    if (!index) indexes.set(row.indexName, (index = { unique: Number(row.nonUnique) === 0, columns: [] }))
    index.columns.push({ name: row.columnName, subPart: row.subPart })
  }
  return indexes
}
