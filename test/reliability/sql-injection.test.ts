/**
 * SQL: identifier parts carrying quotes, backslashes, control characters (no NUL) and SQL
 * fragments are stored byte for byte, found again verbatim, never confused with each other, and
 * re-minting (from the same app or a fresh one) gives the same canonical IDs.
 */
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { keyOf } from '../../src/services/identifier-store/keys.js'
import { sourceIdentifier as si } from '../../fixtures/works.js'
import { setup } from '../helpers.js'
import { directDatabase, embeddedIdProblems, indexedDocument, mintInject, rowKey } from './support.js'

const HOSTILE = [
  "'; DROP TABLE identifiers; --",
  "\\' OR 1=1",
  "' OR '1'='1",
  "' OR 1=1 --",
  '" OR ""="',
  "x'); DELETE FROM canonical_ids; --",
  '`; DROP TABLE canonical_ids; --',
  '1; SELECT SLEEP(5)',
  "' UNION SELECT CanonicalId, 1, 1, 1 FROM canonical_ids --",
  '\\',
  '\\\\',
  "\\'",
  "'",
  "''",
  '"',
  '`',
  '%',
  '_',
  'a%b_c',
  '\\0',
  '\\N',
  'NULL',
  '/* comment */',
  '-- comment',
  '#',
  '?',
  '??',
  ':name',
  '$1',
  '${x}',
  '0x41',
  'CHAR(65)',
  '\u0001\u0002\u0003\u001a\u001b\u001f\u007f',
  '\t\n\r\b\f\v',
  'line\nbreak',
  '\u2028\u2029',
  '\u00a0',
  '\ufeff',
  '\u202egnp.exe',
  '🙂',
  'é',
  'e\u0301',
  'b1',
  'b1 ',
  ' b1',
  'B1',
  'ß',
  'ss',
  'ı',
  'i',
]

/** A JSON string with everything outside printable ASCII escaped (a raw U+2028 would break TAP's lines). */
const show = (text: string) => JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

t.test('hostile identifier text is stored and found verbatim, and re-minting gives the same IDs', async (t) => {
  const ctx = await setup(t, 'sql')
  const db = await directDatabase(t, ctx.config.IDENTIFIERS_DATABASE)
  // Each hostile string is a value, an identifier type and an ontology type, and the work's own
  // source index id; a second work refers to the same identifiers, so look-ups must find them.
  const works = HOSTILE.flatMap((text, i) => {
    const nodes = {
      items: [{ id: { type: 'Identifiable', sourceIdentifier: si('sierra-system-number', 'Item', text) } }],
      subjects: [{ id: { type: 'Identifiable', sourceIdentifier: si(text, 'Subject', `sh-${i}`), identifiedType: 'Subject' } }],
      genres: [{ id: { type: 'Identifiable', sourceIdentifier: si('hostile-types', text, `g-${i}`) } }],
    }
    return [
      // Ids are trimmed on the way in, so the hostile text sits between markers.
      { id: `w${i}:${text}:`, work: { state: { sourceIdentifier: si('hostile', 'Work', text) }, data: { title: text, ...nodes } } },
      { id: `again${i}:${text}:`, work: { state: { sourceIdentifier: si('hostile-again', 'Work', text) }, data: { title: text, ...nodes } } },
    ]
  })
  await ctx.seed(works)
  const ids = works.map((w) => w.id)
  const minted: Array<{ status: number; body: { successes: string[]; failures: unknown[] } }> = []
  for (let i = 0; i < ids.length; i += 100) minted.push(await mintInject(ctx.app, { sourceIdentifiers: ids.slice(i, i + 100) }))
  t.same(minted.map((m) => m.status), minted.map(() => 200), 'every request answered 200')
  t.same(minted.flatMap((m) => m.body.successes), ids, 'every work, found by its hostile source index id, was minted')

  const tables = await db.sql<{ TABLE_NAME: string }>('SELECT TABLE_NAME FROM information_schema.tables WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [ctx.config.IDENTIFIERS_DATABASE])
  t.same(tables.map((r) => r.TABLE_NAME).filter((n) => !n.startsWith('__')), ['canonical_ids', 'identifiers'], 'both tables are still there')

  const rows = await db.mappings()
  const mapping = new Map(rows.map((r) => [rowKey(r), r.CanonicalId]))
  // Per hostile string: Work x2, Item, Subject, and the genre under the hostile ontology type.
  t.equal(rows.length, HOSTILE.length * 5, 'exactly the expected rows: nothing dropped, nothing extra, no two strings merged')
  t.equal(new Set(mapping.values()).size, rows.length, 'every identifier has a canonical ID of its own')
  t.equal(Number((await db.sql<{ n: number }>('SELECT COUNT(*) AS n FROM canonical_ids'))[0]?.n), rows.length, 'canonical_ids holds exactly those IDs')

  for (const text of HOSTILE) {
    const bytes = Buffer.from(text, 'utf8')
    // Parameters go as bytes, compared as bytes: this finds the row only if it holds exactly them.
    const exact = await db.sql<{ SourceId: Buffer; CanonicalId: string }>(
      'SELECT SourceId, CanonicalId FROM identifiers WHERE OntologyType = ? AND SourceSystem = ? AND SourceId = ?',
      [Buffer.from('Item'), Buffer.from('sierra-system-number'), bytes],
    )
    t.equal(exact.length, 1, `${show(text)}: one Item row holds exactly its bytes`)
    t.equal(exact[0]?.SourceId.toString('hex'), bytes.toString('hex'), `${show(text)}: the stored bytes are the value's UTF-8`)
    const asType = await db.sql('SELECT 1 FROM identifiers WHERE SourceSystem = ?', [bytes])
    const asOntology = await db.sql('SELECT 1 FROM identifiers WHERE OntologyType = ?', [bytes])
    t.ok(asType.length === 1 && asOntology.length === 1, `${show(text)}: stored verbatim as identifier type and ontology type too`)
  }
  for (const [a, b] of [['b1', 'b1 '], ['b1', ' b1'], ['b1', 'B1'], ['é', 'e\u0301'], ['ß', 'ss'], ['ı', 'i'], ["'", "''"], ['\\', '\\\\']]) {
    const key = (v: string) => keyOf({ ontologyType: 'Item', sourceSystem: 'sierra-system-number', sourceId: v })
    t.not(mapping.get(key(a as string)), mapping.get(key(b as string)), `${show(a as string)} and ${show(b as string)} are different identifiers`)
  }
  const problems: string[] = []
  for (const w of works) {
    const root = keyOf({ ontologyType: 'Work', sourceSystem: w.id.startsWith('again') ? 'hostile-again' : 'hostile', sourceId: (w.work.state.sourceIdentifier as { value: string }).value })
    const indexed = await indexedDocument(ctx.es, ctx.config.es_identified_index, mapping.get(root) as string)
    if (!indexed) problems.push(`${w.id}: not indexed`)
    else problems.push(...embeddedIdProblems(indexed, mapping).map((p) => `${w.id}: ${p}`))
    if (indexed && (indexed.data as { title?: string }).title !== (w.work.data as { title: string }).title) problems.push(`${w.id}: title changed`)
  }
  t.same(problems, [], 'each work is indexed verbatim, both works carrying the same IDs for the shared identifiers')

  // Re-minting from the same app, then from a fresh one (its own pool): nothing changes.
  for (let i = 0; i < ids.length; i += 100) await mintInject(ctx.app, { sourceIdentifiers: ids.slice(i, i + 100) })
  const fresh = await buildApp(ctx.config)
  t.teardown(() => fresh.close())
  for (let i = 0; i < ids.length; i += 100) {
    const answer = await mintInject(fresh, { sourceIdentifiers: ids.slice(i, i + 100) })
    t.equal(answer.body.successes.length, Math.min(100, ids.length - i), `a fresh app re-mints batch ${i / 100 + 1}`)
  }
  const after = await db.mappings()
  t.same(new Map(after.map((r) => [rowKey(r), r.CanonicalId])), mapping, 're-minting gave every identifier the same canonical ID and added no row')
  t.equal(Number((await db.sql<{ n: number }>('SELECT COUNT(*) AS n FROM canonical_ids'))[0]?.n), rows.length, 'and no canonical ID')
})
