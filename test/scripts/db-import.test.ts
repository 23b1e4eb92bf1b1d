import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import mysql from 'mysql2/promise'
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { localEnv } from '../../fixtures/local-env.js'
import { databaseOptions } from '../../src/plugins/database.js'
import { openDatabase } from '../../src/services/identifier-store/database.js'
import { importLegacyIdentifiers, parseSource } from '../../src/services/legacy-import/index.js'
import { adminConnection, isolatedConfig, mint, setup, type Teardown } from '../helpers.js'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** A legacy value: plain ASCII text, or latin1 bytes written as they sit in the legacy column. */
type LegacyText = string | Buffer
type LegacyRow = [canonicalId: LegacyText, ontologyType: LegacyText, sourceSystem: LegacyText, sourceId: LegacyText]

const literal = (value: LegacyText) => (typeof value === 'string' ? mysql.escape(value) : `_latin1 X'${value.toString('hex')}'`)

/** The Scala pipeline's table, as its migrations created it: latin1, CanonicalId the primary key. */
const SCALA_DDL = [
  `CREATE TABLE identifiers (
     CanonicalId varchar(255) NOT NULL, OntologyType varchar(255) NOT NULL,
     SourceSystem varchar(255) NOT NULL, SourceId varchar(255) NOT NULL,
     PRIMARY KEY (CanonicalId), UNIQUE KEY UniqueFromSource (OntologyType, SourceSystem, SourceId)
   ) DEFAULT CHARSET=latin1`,
]

/** Its successor's two tables: canonical IDs drawn ahead as 'free', predecessors sharing one. */
const SUCCESSOR_DDL = [
  `CREATE TABLE canonical_ids (
     CanonicalId varchar(255) NOT NULL, Status enum('free','assigned') NOT NULL DEFAULT 'free',
     CreatedAt timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (CanonicalId)
   ) DEFAULT CHARSET=latin1`,
  `CREATE TABLE identifiers (
     OntologyType varchar(255) NOT NULL, SourceSystem varchar(255) NOT NULL, SourceId varchar(255) NOT NULL,
     CanonicalId varchar(255) NOT NULL, CreatedAt timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
     PRIMARY KEY (OntologyType, SourceSystem, SourceId), KEY CanonicalId (CanonicalId),
     FOREIGN KEY (CanonicalId) REFERENCES canonical_ids (CanonicalId)
   ) DEFAULT CHARSET=latin1`,
]

interface Legacy {
  name: string
  url: string
  sql<T = Record<string, unknown>>(statement: string, params?: unknown[]): Promise<T[]>
  insert(rows: LegacyRow[]): Promise<void>
}

/** A latin1 legacy database of this test's own, dropped afterwards (only it). */
async function legacyDatabase(t: Teardown, label: string, ddl: string[]): Promise<Legacy> {
  const name = `t_legacy_${label}_${randomBytes(3).toString('hex')}`
  const admin = await adminConnection()
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET latin1`)
  await admin.query(`USE \`${name}\``)
  for (const statement of ddl) await admin.query(statement)
  t.teardown(async () => {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``)
    await admin.end()
  })
  const sql = async <T>(statement: string, params: unknown[] = []) => (await admin.query(statement, params))[0] as T[]
  return {
    name,
    url: `mysql://${localEnv.db_username}@${localEnv.cluster_url}:${localEnv.db_port}/${name}`,
    sql,
    async insert(rows) {
      for (let i = 0; i < rows.length; i += 1000) {
        const values = rows.slice(i, i + 1000).map((row) => `(${row.map(literal).join(', ')})`)
        await admin.query(`INSERT INTO identifiers (CanonicalId, OntologyType, SourceSystem, SourceId) VALUES ${values.join(', ')}`)
      }
    },
  }
}

/** A target configuration of the test's own; its database (created by the import) is dropped afterwards. */
function targetConfig(t: Teardown, label: string) {
  const config = isolatedConfig(label)
  t.teardown(async () => {
    const admin = await adminConnection()
    await admin.query(`DROP DATABASE IF EXISTS \`${config.IDENTIFIERS_DATABASE}\``)
    await admin.end()
  })
  return config
}

async function targetRows(database: string) {
  const admin = await adminConnection()
  try {
    const [mappings] = await admin.query(
      `SELECT CAST(OntologyType AS CHAR) AS ontologyType, CAST(SourceSystem AS CHAR) AS sourceSystem, CAST(SourceId AS CHAR) AS sourceId, CanonicalId AS canonicalId, CreatedAt AS createdAt
         FROM \`${database}\`.identifiers ORDER BY CanonicalId, OntologyType, SourceSystem, SourceId`,
    )
    const [canonicalIds] = await admin.query(`SELECT CanonicalId AS canonicalId, Status AS status, CreatedAt AS createdAt FROM \`${database}\`.canonical_ids ORDER BY CanonicalId`)
    return { mappings: mappings as Array<Record<string, unknown>>, canonicalIds: canonicalIds as Array<Record<string, unknown>> }
  } finally {
    await admin.end()
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const admin = await adminConnection()
  const [rows] = await admin.query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name])
  await admin.end()
  return (rows as unknown[]).length > 0
}

/** Runs `npm run db:import`'s script as an operator would, with stdout a pipe (plain log lines). */
function runCli(database: string, args: string[]) {
  // node itself with tsx as a loader, not the tsx wrapper: a SIGKILL must reach the importing process.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/import-legacy.ts', '--local', ...args], {
    cwd: root,
    env: { ...process.env, IDENTIFIERS_DATABASE: database, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, output })),
  )
  return { child, exited }
}

const latin1 = (text: string) => Buffer.from(text, 'latin1')

t.test('db:import (Scala one-table layout): latin1 text arrives as the same characters, Concept subtypes as Concept, run twice changes nothing', async (t) => {
  const legacy = await legacyDatabase(t, 'scala', SCALA_DDL)
  await legacy.insert([
    ['abcdefgh', 'Work', 'sierra-system-number', 'b1000001'],
    // é ü in latin1, then cp1252's € (0x80), Ÿ (0x9F) and 0x81, which MySQL's latin1 maps to U+0081.
    ['bcdefghj', 'Work', 'calm-record-id', Buffer.from([0x52, 0xe9, 0x73, 0x75, 0x6d, 0xe9, 0x20, 0xfc, 0x80, 0x9f, 0x81])],
    ['cdefghjk', 'Person', 'lc-names', 'n79021164'],
    ['defghjkm', 'Agent', 'lc-names', 'n50002000'],
    ['efghjkmn', 'Concept', 'lc-subjects', 'sh85076502'],
    ['fghjkmnp', 'Work', latin1('système'), 'B1000001'],
    ['ghjkmnpq', 'Work', 'miro-image-number', 'V0001234'],
  ])
  const config = targetConfig(t, 'import-scala')

  const events: string[] = []
  const first = await importLegacyIdentifiers({
    source: parseSource(legacy.url),
    target: databaseOptions(config),
    batchSize: 2,
    onEvent: (event) => event.kind === 'layout' && events.push(event.description),
  })
  t.equal(first.status, 'finished')
  t.match(events[0], /Scala pipeline's one-table layout/, 'says which layout it found')
  t.equal(first.verification?.holds, true, 'the verification holds')
  t.equal(first.counts?.imported, 7)

  const after = await targetRows(config.IDENTIFIERS_DATABASE)
  t.same(
    after.mappings.map(({ createdAt: _, ...row }) => row),
    [
      { ontologyType: 'Work', sourceSystem: 'sierra-system-number', sourceId: 'b1000001', canonicalId: 'abcdefgh' },
      { ontologyType: 'Work', sourceSystem: 'calm-record-id', sourceId: 'Résumé ü€Ÿ\u0081', canonicalId: 'bcdefghj' },
      { ontologyType: 'Concept', sourceSystem: 'lc-names', sourceId: 'n79021164', canonicalId: 'cdefghjk' },
      { ontologyType: 'Concept', sourceSystem: 'lc-names', sourceId: 'n50002000', canonicalId: 'defghjkm' },
      { ontologyType: 'Concept', sourceSystem: 'lc-subjects', sourceId: 'sh85076502', canonicalId: 'efghjkmn' },
      { ontologyType: 'Work', sourceSystem: 'système', sourceId: 'B1000001', canonicalId: 'fghjkmnp' },
      { ontologyType: 'Work', sourceSystem: 'miro-image-number', sourceId: 'V0001234', canonicalId: 'ghjkmnpq' },
    ],
  )
  t.same(
    after.canonicalIds.map((row) => [row.canonicalId, row.status]),
    ['abcdefgh', 'bcdefghj', 'cdefghjk', 'defghjkm', 'efghjkmn', 'fghjkmnp', 'ghjkmnpq'].map((id) => [id, 'assigned']),
    'every imported canonical ID is registered as assigned',
  )
  const [bytes] = await legacy.sql<{ hex: string }>(
    `SELECT HEX(SourceId) AS hex FROM \`${config.IDENTIFIERS_DATABASE}\`.identifiers WHERE CanonicalId = 'bcdefghj'`,
  )
  t.equal(bytes?.hex, Buffer.from('Résumé ü€Ÿ\u0081', 'utf8').toString('hex').toUpperCase(), 'stored as those characters in UTF-8')

  const second = await importLegacyIdentifiers({ source: parseSource(legacy.url), target: databaseOptions(config), batchSize: 3 })
  t.equal(second.status, 'finished')
  t.equal(second.verification?.holds, true)
  t.equal(second.counts?.imported, 0, 'the second run inserts nothing')
  t.equal(second.counts?.present, 7, 'and finds every mapping in place')
  t.same(await targetRows(config.IDENTIFIERS_DATABASE), after, 'both tables are exactly as the first run left them, CreatedAt included')
})

t.test('db:import: killed halfway and run again, then stopped with Ctrl-C and run again, it loses nothing and adds nothing', async (t) => {
  const legacy = await legacyDatabase(t, 'resume', SCALA_DDL)
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789'
  const id = (n: number) => `a${[...n.toString(31).padStart(7, '0')].map((d) => alphabet[parseInt(d, 31)]).join('')}`
  const total = 20_000
  const rows: LegacyRow[] = []
  for (let n = 0; n < total; n++) {
    const type = ['Work', 'Item', 'Person', 'Concept'][n % 4] as string
    rows.push([id((n * 7919) % total), type, type === 'Work' || type === 'Item' ? 'sierra-system-number' : 'lc-names', latin1(`b${n}é`)])
  }
  await legacy.insert(rows)
  const config = targetConfig(t, 'import-resume')
  const database = config.IDENTIFIERS_DATABASE
  const progressRows = async () => {
    const found = await legacy.sql<{ Counts: string; Phase: string }>(`SELECT Phase, Counts FROM \`${database}\`.legacy_import_progress`)
    const counts = found[0] ? (JSON.parse(found[0].Counts) as { byType: Record<string, { rows: number }> }) : undefined
    return { phase: found[0]?.Phase, rows: counts ? Object.values(counts.byType).reduce((sum, c) => sum + c.rows, 0) : 0 }
  }
  const until = async (what: string, condition: () => Promise<boolean>) => {
    for (let i = 0; i < 2000; i++) {
      if (await condition()) return
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    throw new Error(`timed out waiting for ${what}`)
  }
  // The batches are stopped at a known place: the test inserts, uncommitted, the canonical ID that
  // opens batch `n`, so the import waits on that row's lock inside batch n's transaction, with
  // every batch before it committed.
  const sortedIds = rows.map((row) => row[0] as string).sort()
  const blockBatch = async (n: number) => {
    const blocker = await adminConnection()
    await blocker.query('BEGIN')
    await blocker.query(`INSERT INTO \`${database}\`.canonical_ids (CanonicalId, Status) VALUES (?, 'assigned')`, [sortedIds[n * 100]])
    return blocker
  }
  const importerWaiting = async () => {
    const [waiting] = await legacy.sql<{ n: number }>(
      `SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
        WHERE t.trx_state = 'LOCK WAIT' AND p.DB = ?`,
      [database],
    )
    return Number(waiting?.n) > 0
  }
  const importerGone = async () => {
    const [connected] = await legacy.sql<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?', [database])
    return Number(connected?.n) === 0
  }
  const args = ['--source', legacy.url, '--batch-size', '100']
  const admin = await adminConnection()
  await admin.query(`CREATE DATABASE \`${database}\``)
  await admin.end()
  const migrated = openDatabase({ ...databaseOptions(config), applyMigrations: true })
  await migrated.applyMigrations()
  await migrated.close()

  let blocker = await blockBatch(20)
  const killed = runCli(database, args)
  await until('the import to wait inside batch 21', async () => (await progressRows().catch(() => ({ rows: 0 }))).rows === 2000 && (await importerWaiting()))
  killed.child.kill('SIGKILL')
  t.equal((await killed.exited).signal, 'SIGKILL')
  // The server notices the dead client once its statement stops waiting, and rolls back the batch
  // whose COMMIT never came.
  await blocker.query('ROLLBACK')
  await blocker.end()
  await until('the server to drop the killed connection', importerGone)
  t.same(await progressRows(), { phase: 'identifiers', rows: 2000 }, 'the pass is unfinished at the last committed batch')
  const [partial] = await legacy.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM \`${database}\`.identifiers`)
  t.equal(Number(partial?.n), 2000, 'the batch in flight when it was killed left nothing')

  blocker = await blockBatch(60)
  const interrupted = runCli(database, args)
  await until('the import to wait inside batch 61', async () => (await progressRows()).rows === 6000 && (await importerWaiting()))
  interrupted.child.kill('SIGINT')
  await new Promise((resolve) => setTimeout(resolve, 200))
  await blocker.query('ROLLBACK')
  await blocker.end()
  const stopped = await interrupted.exited
  t.equal(stopped.code, 130, 'Ctrl-C: exit code 130', { output: stopped.output })
  t.match(stopped.output, /resuming the unfinished import at 2,000 of 20,000 rows/)
  t.match(stopped.output, /stopped after a committed batch: run the same command again to continue/)
  t.same(await progressRows(), { phase: 'identifiers', rows: 6100 }, 'Ctrl-C let the batch in flight commit, and started no other')

  const finished = await runCli(database, args).exited
  t.equal(finished.code, 0, 'exit code 0: imported and verified', { output: finished.output })
  t.match(finished.output, /resuming the unfinished import at 6,100 of 20,000 rows/)

  // The expectation comes straight from the legacy table, converted by the server.
  const expected = await legacy.sql<{ t: string; s: string; v: string; c: string }>(
    `SELECT CASE WHEN OntologyType = 'Person' THEN 'Concept' ELSE OntologyType END AS t, SourceSystem AS s, CONVERT(SourceId USING utf8mb4) AS v, CanonicalId AS c
       FROM identifiers ORDER BY CanonicalId`,
  )
  const imported = await legacy.sql<{ t: string; s: string; v: string; c: string }>(
    `SELECT CAST(OntologyType AS CHAR) AS t, CAST(SourceSystem AS CHAR) AS s, CAST(SourceId AS CHAR) AS v, CanonicalId AS c FROM \`${database}\`.identifiers ORDER BY CanonicalId`,
  )
  t.equal(imported.length, total, 'every legacy row is here once')
  t.same(imported, expected, 'with its key and canonical ID')
  const [registered] = await legacy.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM \`${database}\`.canonical_ids WHERE Status = 'assigned'`)
  t.equal(Number(registered?.n), total)
})

t.test('db:import: bad canonical IDs, values over our limits and keys that collide once normalised are reported, and nothing is written', async (t) => {
  const legacy = await legacyDatabase(t, 'checks', SCALA_DDL)
  await legacy.insert([
    ['abcdefgh', 'Work', 'sierra-system-number', 'b1'],
    ['toolongid', 'Work', 'sierra-system-number', 'b2'],
    ['short', 'Work', 'sierra-system-number', 'b3'],
    [latin1('abcdefgé'), 'Work', 'sierra-system-number', 'b4'],
    ['abc defg', 'Work', 'sierra-system-number', 'b5'],
    // 200 latin1 characters, 400 bytes in UTF-8: over SourceSystem's 255.
    ['bcdefghj', 'Work', latin1('é'.repeat(200)), 'b6'],
    ['cdefghjk', 'Person', 'lc-names', 'n1'],
    ['defghjkm', 'Agent', 'lc-names', 'n1'],
    ['efghjkmn', 'Person', 'lc-names', 'n2'],
    ['ABCDEFGJ', 'Work', 'miro-image-number', 'V1'],
  ])
  await legacy.sql('INSERT INTO identifiers VALUES (\'efghjkmp\', \'Concept\', \'lc-names\', \'n3\'), (\'efghjkmq\', \'Organisation\', \'lc-names\', \'n3\')')
  const config = targetConfig(t, 'import-checks')

  const { code, output } = await runCli(config.IDENTIFIERS_DATABASE, ['--source', legacy.url]).exited
  t.equal(code, 3, 'exit code 3: a check failed', { output })
  t.match(output, /FAILED bad-canonical-id: 4 rows whose CanonicalId is not 8 printable ASCII characters/)
  t.match(output, /e\.g\. Work\[sierra-system-number\/b5\] → "abc defg"/)
  t.match(output, /e\.g\. Work\[sierra-system-number\/b4\] → "abcdefgé"/)
  t.match(output, /FAILED value-too-long: 1 rows/)
  t.match(output, /FAILED key-collision: 2 keys that 4 legacy rows with different canonical IDs become/)
  t.match(output, /(Person|Agent)\[lc-names\/n1\] → "(cdefghjk|defghjkm)" and (Person|Agent)\[lc-names\/n1\]/)
  t.match(output, /note outside-minting-alphabet: 1 rows/)
  t.match(output, /nothing was written/)
  t.equal(await databaseExists(config.IDENTIFIERS_DATABASE), false, 'the target database was not even created')
})

t.test('db:import (successor two-table layout): shared canonical IDs stay shared, IDs given out but unused are registered, free ones are not', async (t) => {
  const legacy = await legacyDatabase(t, 'successor', SUCCESSOR_DDL)
  await legacy.sql('INSERT INTO canonical_ids (CanonicalId, Status) VALUES (\'abcdefgh\', \'assigned\'), (\'bcdefghj\', \'assigned\'), (\'cdefghjk\', \'assigned\'), (\'freefree\', \'free\')')
  await legacy.sql(
    `INSERT INTO identifiers (OntologyType, SourceSystem, SourceId, CanonicalId) VALUES
       ('Work', 'sierra-system-number', 'b1', 'abcdefgh'), ('Work', 'calm-record-id', ${literal(latin1('Ä1'))}, 'abcdefgh'),
       ('Genre', 'lc-genres', 'gf1', 'bcdefghj')`,
  )
  const config = targetConfig(t, 'import-successor')
  const events: string[] = []
  const result = await importLegacyIdentifiers({
    source: parseSource(legacy.url),
    target: databaseOptions(config),
    batchSize: 1,
    onEvent: (event) => event.kind === 'layout' && events.push(event.description),
  })
  t.match(events[0], /successor's two-table layout \(canonical_ids \+ identifiers\)/)
  t.equal(result.status, 'finished')
  t.equal(result.verification?.holds, true, JSON.stringify(result.verification?.problems))
  t.match(result.checks.notices.find((n) => n.check === 'shared-canonical-id'), { count: 1 }, 'the shared ID is reported')
  const rows = await targetRows(config.IDENTIFIERS_DATABASE)
  t.same(
    rows.mappings.map(({ createdAt: _, ...row }) => row),
    [
      { ontologyType: 'Work', sourceSystem: 'calm-record-id', sourceId: 'Ä1', canonicalId: 'abcdefgh' },
      { ontologyType: 'Work', sourceSystem: 'sierra-system-number', sourceId: 'b1', canonicalId: 'abcdefgh' },
      { ontologyType: 'Concept', sourceSystem: 'lc-genres', sourceId: 'gf1', canonicalId: 'bcdefghj' },
    ],
  )
  t.same(
    rows.canonicalIds.map((row) => [row.canonicalId, row.status]),
    [
      ['abcdefgh', 'assigned'],
      ['bcdefghj', 'assigned'],
      ['cdefghjk', 'assigned'],
    ],
    'the unused assigned ID is registered, the free one is not',
  )
})

t.test('db:import beside a live service: a key minted here with another ID, and an ID minted here for another key, are conflicts reported and not overwritten', async (t) => {
  const ctx = await setup(t, 'import-live')
  const work = makeWork({ value: 'b5000001', nested: 1 })
  await ctx.seed([work])
  t.equal((await mint(ctx.app, { sourceIdentifiers: [work.id] })).status, 200)
  const live = new Map((await ctx.mappings()).map((row) => [`${row.OntologyType}/${row.SourceSystem}/${row.SourceId}`, row.CanonicalId]))
  const liveWorkId = live.get('Work/sierra-system-number/b5000001') as string
  const liveItemId = live.get('Item/sierra-system-number/b5000001-item0') as string
  const legacyWorkId = liveWorkId === 'zzzzzzzz' ? 'yyyyyyyy' : 'zzzzzzzz'

  const legacy = await legacyDatabase(t, 'live', SCALA_DDL)
  await legacy.insert([
    [legacyWorkId, 'Work', 'sierra-system-number', 'b5000001'],
    [liveItemId, 'Work', 'sierra-system-number', 'b5000002'],
    ['abcdefgh', 'Work', 'sierra-system-number', 'b5000003'],
  ])
  const before = await ctx.mappings()
  const { code, output } = await runCli(ctx.config.IDENTIFIERS_DATABASE, ['--source', legacy.url]).exited
  t.equal(code, 1, 'exit code 1: conflicts', { output })
  t.match(output, /conflicts: 2, none overwritten/)
  t.match(output, new RegExp(`Work\\[sierra-system-number/b5000001\\] → "${legacyWorkId}": the key has "${liveWorkId}" here \\(kept\\)`))
  t.match(output, new RegExp(`Work\\[sierra-system-number/b5000002\\] → "${liveItemId}": the canonical ID belongs to Item\\[sierra-system-number/b5000001-item0\\] here \\(kept\\)`))
  t.match(output, /the verification does not hold/)

  const after = await ctx.mappings()
  t.same(
    after.filter((row) => before.some((b) => b.SourceId === row.SourceId)),
    before,
    'the live mappings are unchanged',
  )
  t.notOk(after.some((row) => row.SourceId === 'b5000002'), 'the legacy row whose ID is taken here is not written')
  t.ok(after.some((row) => row.SourceId === 'b5000003' && row.CanonicalId === 'abcdefgh'), 'the rows without a conflict are imported')
  const conflicts = await ctx.sql<{ Kind: string }>('SELECT Kind FROM legacy_import_conflicts')
  t.same(conflicts.map((c) => c.Kind).sort(), ['id-has-another-key', 'key-has-another-id'], 'each conflict is kept for the operator')
})

t.test('POST /mint after db:import: a legacy work and its legacy concepts keep their legacy canonical IDs', async (t) => {
  const ctx = await setup(t, 'import-then-mint')
  const work = makeWork({ value: 'b6000001', nested: 3 })
  const legacy = await legacyDatabase(t, 'mint', SCALA_DDL)
  await legacy.insert([
    ['wrkwrk22', 'Work', 'sierra-system-number', 'b6000001'],
    // The work's contributor is a Person in the source work; the legacy table has it as an Agent.
    ['agentagt', 'Agent', 'lc-names', 'b6000001-n2'],
  ])
  const result = await importLegacyIdentifiers({ source: parseSource(legacy.url), target: databaseOptions(ctx.config) })
  t.equal(result.verification?.holds, true)

  await ctx.seed([work])
  const { status, body } = await mint(ctx.app, { sourceIdentifiers: [work.id] })
  t.equal(status, 200)
  t.same(body.failures, [])
  const identified = (await ctx.identified('wrkwrk22')) as any
  t.ok(identified, 'the work is indexed under its legacy canonical ID')
  t.equal(identified.state.canonicalId, 'wrkwrk22')
  const contributor = identified.data.contributors[0].agent.id
  t.equal(contributor.sourceIdentifier.ontologyType, 'Person')
  t.equal(contributor.canonicalId, 'agentagt', 'the Person finds the Concept mapping the legacy Agent row became')
  const [{ n }] = (await ctx.sql<{ n: number }>('SELECT COUNT(*) AS n FROM identifiers WHERE CanonicalId IN (\'wrkwrk22\', \'agentagt\')')) as [{ n: number }]
  t.equal(Number(n), 2, 'no second mapping was minted for them')
})
