import { sql } from 'drizzle-orm'
import { customType, index, mysqlEnum, mysqlTable, primaryKey, timestamp } from 'drizzle-orm/mysql-core'
import { limits } from './limits.js'

export { limits }

// Identifier text is stored as bytes: a binary comparison is case-sensitive, exact for any
// Unicode, and (unlike MySQL 8's utf8mb4_bin, a PAD SPACE collation) keeps "b1" and "b1 " apart.
// utf8mb4_0900_bin would do on MySQL 8 but MariaDB lacks it; VARBINARY behaves alike on both.
const utf8Bytes = (maxBytes: number) =>
  customType<{ data: string; driverData: Buffer | string }>({
    dataType: () => `varbinary(${maxBytes})`,
    fromDriver: (value) => (typeof value === 'string' ? value : value.toString('utf8')),
  })

const canonicalIdColumn = customType<{ data: string }>({
  dataType: () => 'char(8) CHARACTER SET ascii COLLATE ascii_bin',
})

export const canonicalIds = mysqlTable('canonical_ids', {
  canonicalId: canonicalIdColumn('CanonicalId').primaryKey(),
  status: mysqlEnum('Status', ['free', 'assigned']).notNull().default('free'),
  createdAt: timestamp('CreatedAt', { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`),
})

export const identifiers = mysqlTable(
  'identifiers',
  {
    ontologyType: utf8Bytes(limits.ontologyType)('OntologyType').notNull(),
    sourceSystem: utf8Bytes(limits.sourceSystem)('SourceSystem').notNull(),
    sourceId: utf8Bytes(limits.sourceId)('SourceId').notNull(),
    canonicalId: canonicalIdColumn('CanonicalId')
      .notNull()
      .references(() => canonicalIds.canonicalId),
    createdAt: timestamp('CreatedAt', { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`),
  },
  (table) => [
    primaryKey({ name: 'identifiers_pk', columns: [table.ontologyType, table.sourceSystem, table.sourceId] }),
    index('identifiers_canonical_id').on(table.canonicalId),
  ],
)
