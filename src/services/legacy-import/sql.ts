// SQL fragments over the legacy columns, written for both MySQL 8 and MariaDB 10.11.
import mysql from 'mysql2/promise'
import { CONCEPT_SUBTYPES } from '../work-identifiers.js'
import type { LegacyLayout, MappingColumn } from './source.js'

/** Names were checked against a safe pattern when the layout was read. */
export const quote = (name: string): string => `\`${name}\``

/**
 * The column's text in UTF-8, converted by the server. MySQL's "latin1" is really cp1252 (0x80 is €),
 * and the server's own conversion is the definition of what those bytes meant to the legacy system.
 */
export const utf8 = (column: string): string => utf8Of(quote(column))

/** utf8() of any SQL expression (a qualified column, a derived table's column). */
export const utf8Of = (expression: string): string => `CONVERT(${expression} USING utf8mb4)`

/** The same text as its UTF-8 bytes: grouped and compared exactly, as our VARBINARY columns compare (no case folding, no PAD SPACE). */
export const utf8Bytes = (column: string): string => `CAST(${utf8(column)} AS BINARY)`

/** UTF-8 text under a binary collation, for REGEXP: matched case-sensitively on both servers. */
export const utf8Exact = (column: string): string => `(${utf8(column)} COLLATE utf8mb4_bin)`

/** The ontology type as it is stored here, as UTF-8 bytes: Concept subtypes (an exact, case-sensitive match, as a mint does) become 'Concept'. */
export function storedTypeBytes(column: string): string {
  const subtypes = CONCEPT_SUBTYPES.map((t) => mysql.escape(t)).join(', ')
  return `CAST(CASE WHEN CAST(${quote(column)} AS BINARY) IN (${subtypes}) THEN 'Concept' ELSE ${utf8(column)} END AS BINARY)`
}

/**
 * The legacy ontology type's own bytes, to group by: much cheaper for the server than grouping by
 * storedTypeBytes(), and byte-equal types are the same type here once normalised in code.
 */
export const legacyTypeBytes = (column: string): string => `CAST(${quote(column)} AS BINARY)`

/** A condition true for the Concept subtypes and Concept itself: the rows normalisation can fold together. */
export function conceptFamily(column: string): string {
  const types = ['Concept', ...CONCEPT_SUBTYPES].map((t) => mysql.escape(t)).join(', ')
  return `CAST(${quote(column)} AS BINARY) IN (${types})`
}

/** The four mapping columns converted to UTF-8, in MAPPING_COLUMNS order. */
export function selectMapping(layout: LegacyLayout): string {
  const c = layout.columns
  return [c.OntologyType, c.SourceSystem, c.SourceId, c.CanonicalId].map((col) => utf8(col.name)).join(', ')
}

/**
 * Keyset condition: rows after `after` in the order of `columns` (compared under the legacy
 * collation, so the index gives the order). Spelt out as ORs rather than a row comparison, which
 * MariaDB's range optimiser does not use.
 */
export function after(columns: string[], values: string[]): { sql: string; values: string[] } {
  const build = (i: number): { sql: string; values: string[] } => {
    const column = quote(columns[i] as string)
    const value = values[i] as string
    if (i === columns.length - 1) return { sql: `${column} > ?`, values: [value] }
    const rest = build(i + 1)
    return { sql: `(${column} > ? OR (${column} = ? AND ${rest.sql}))`, values: [value, value, ...rest.values] }
  }
  return build(0)
}

export function paginationColumns(layout: LegacyLayout): string[] {
  return layout.paginationKey.map((c: MappingColumn) => layout.columns[c].name)
}
