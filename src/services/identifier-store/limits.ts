// Apart from schema.ts, so that the code that reads identifiers does not load drizzle-orm's table
// definitions: drizzle is only the migrator, loaded when a migration has to run.

/** The widest values of the identifiers table's text columns, in bytes of UTF-8 (schema.ts, migrations/). */
export const limits = { ontologyType: 64, sourceSystem: 255, sourceId: 1020 } as const
