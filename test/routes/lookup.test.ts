// The read-only look-up API: GET /canonical-ids/{canonicalId}, GET /source-identifiers and
// POST /source-identifiers/lookup, against the real database. Expected answers come from SQL read
// apart from the service (its own connection, in UTC) or from rows the test wrote itself.
import mysql from 'mysql2/promise'
import t from 'tap'
import { localEnv } from '../../fixtures/local-env.js'
import { makeWork } from '../../fixtures/works.js'
import type { App } from '../../src/app.js'
import { TcpProxy } from '../reliability/proxy.js'
import { mint, setup, type TestContext } from '../helpers.js'

interface StoredRow {
  ontologyType: string
  identifierType: string
  value: string
  canonicalId: string
  createdAt: string
}

/** A connection of the test's own to its database, in UTC. */
async function utcConnection(ctx: TestContext) {
  const connection = await mysql.createConnection({
    host: localEnv.cluster_url,
    port: Number(localEnv.db_port),
    user: localEnv.db_username,
    password: '',
    database: ctx.config.IDENTIFIERS_DATABASE,
    charset: 'utf8mb4',
  })
  await connection.query("SET time_zone = '+00:00'")
  return connection
}

/** Rows of the identifiers table, read apart from the service, CreatedAt as ISO 8601 in UTC to the millisecond. */
async function storedRows(ctx: TestContext): Promise<StoredRow[]> {
  const connection = await utcConnection(ctx)
  try {
    const [rows] = await connection.query(
      `SELECT CAST(OntologyType AS CHAR CHARACTER SET utf8mb4) AS ontologyType, CAST(SourceSystem AS CHAR CHARACTER SET utf8mb4) AS identifierType,
              CAST(SourceId AS CHAR CHARACTER SET utf8mb4) AS value, CanonicalId AS canonicalId,
              DATE_FORMAT(CreatedAt, '%Y-%m-%dT%H:%i:%s.%f') AS createdAt FROM identifiers`,
    )
    return (rows as StoredRow[]).map((row) => ({ ...row, createdAt: `${row.createdAt.slice(0, 23)}Z` }))
  } finally {
    await connection.end()
  }
}

function row(rows: StoredRow[], ontologyType: string, identifierType: string, value: string): StoredRow {
  const found = rows.find((r) => r.ontologyType === ontologyType && r.identifierType === identifierType && r.value === value)
  if (!found) throw new Error(`no stored row ${ontologyType}/${identifierType}/${value}`)
  return found
}

/** Stores mappings as db:import does: a registered canonical ID and a row, CreatedAt given in UTC or now. */
async function storeMappings(ctx: TestContext, mappings: Array<[ontologyType: string, identifierType: string, value: string, canonicalId: string, createdAtUtc?: string]>) {
  const connection = await utcConnection(ctx)
  try {
    const ids = [...new Set(mappings.map((m) => m[3]))]
    await connection.query('INSERT IGNORE INTO canonical_ids (CanonicalId, Status) VALUES ?', [ids.map((id) => [id, 'assigned'])])
    for (const [ontologyType, identifierType, value, canonicalId, createdAtUtc] of mappings) {
      await connection.query('INSERT INTO identifiers (OntologyType, SourceSystem, SourceId, CanonicalId, CreatedAt) VALUES (?, ?, ?, ?, COALESCE(?, CURRENT_TIMESTAMP(3)))', [
        Buffer.from(ontologyType),
        Buffer.from(identifierType),
        Buffer.from(value),
        canonicalId,
        createdAtUtc ?? null,
      ])
    }
  } finally {
    await connection.end()
  }
}

async function get(app: App, url: string, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'GET', url, headers })
  return { status: response.statusCode, body: response.json() }
}

async function lookup(app: App, payload: unknown, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'POST', url: '/source-identifiers/lookup', payload: payload as object, headers })
  return { status: response.statusCode, body: response.json() }
}

const query = (ontologyType: string, identifierType: string, value: string) =>
  `/source-identifiers?ontologyType=${encodeURIComponent(ontologyType)}&identifierType=${encodeURIComponent(identifierType)}&value=${encodeURIComponent(value)}`

const ask = (ontologyType: string, identifierType: string, value: string) => ({ ontologyType, identifierType, value })

async function tableCounts(ctx: TestContext) {
  const [identifiers] = await ctx.sql<{ n: number }>('SELECT COUNT(*) AS n FROM identifiers')
  const [canonicalIds] = await ctx.sql<{ n: number }>('SELECT COUNT(*) AS n FROM canonical_ids')
  return { identifiers: Number(identifiers?.n), canonicalIds: Number(canonicalIds?.n) }
}

t.test('GET /canonical-ids/{canonicalId} lists every source identifier with the ID, oldest first, as stored', async (t) => {
  const ctx = await setup(t, 'lookup-canonical')
  const predecessor = makeWork({ identifierType: 'calm-record-id', value: 'c-1' })
  const successor = makeWork({ value: 'b9', predecessor: { identifierType: 'calm-record-id', value: 'c-1' }, nested: 3 })
  await ctx.seed([predecessor, successor])
  t.equal((await mint(ctx.app, { sourceIdentifiers: [predecessor.id] })).status, 200)
  t.equal((await mint(ctx.app, { sourceIdentifiers: [successor.id] })).status, 200)

  const rows = await storedRows(ctx)
  const calm = row(rows, 'Work', 'calm-record-id', 'c-1')
  const sierra = row(rows, 'Work', 'sierra-system-number', 'b9')
  t.equal(sierra.canonicalId, calm.canonicalId, 'the successor inherited the predecessor\'s ID')
  const { status, body } = await get(ctx.app, `/canonical-ids/${calm.canonicalId}`)
  t.equal(status, 200)
  t.same(body, {
    canonicalId: calm.canonicalId,
    sourceIdentifiers: [
      { ontologyType: 'Work', identifierType: 'calm-record-id', value: 'c-1', createdAt: calm.createdAt },
      { ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b9', createdAt: sierra.createdAt },
    ],
  })

  // The Person contributor is stored as Concept, and answered as stored.
  const person = row(rows, 'Concept', 'lc-names', 'b9-n2')
  t.same((await get(ctx.app, `/canonical-ids/${person.canonicalId}`)).body, {
    canonicalId: person.canonicalId,
    sourceIdentifiers: [{ ontologyType: 'Concept', identifierType: 'lc-names', value: 'b9-n2', createdAt: person.createdAt }],
  })
})

t.test('GET /canonical-ids/{canonicalId} finds legacy IDs outside the minting alphabet exactly, case-sensitive and percent-decoded', async (t) => {
  const ctx = await setup(t, 'lookup-legacy')
  await storeMappings(ctx, [
    ['Work', 'sierra-system-number', 'b2', 'ABCDEFGH', '2019-05-06 07:08:09.010'],
    // Stored later, created earlier: the answer is in order of creation.
    ['Work', 'miro-image-number', 'V1', 'ABCDEFGH', '2001-02-03 04:05:06.789'],
    // Two created in the same millisecond: byte order of ontologyType, identifierType, value.
    ['Work', 'sierra-system-number', 'b3', 'AB/CD%E?', '2020-01-01 00:00:00.000'],
    ['Item', 'sierra-system-number', 'i3', 'AB/CD%E?', '2020-01-01 00:00:00.000'],
  ])
  t.same((await get(ctx.app, '/canonical-ids/ABCDEFGH')).body, {
    canonicalId: 'ABCDEFGH',
    sourceIdentifiers: [
      { ontologyType: 'Work', identifierType: 'miro-image-number', value: 'V1', createdAt: '2001-02-03T04:05:06.789Z' },
      { ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b2', createdAt: '2019-05-06T07:08:09.010Z' },
    ],
  })
  t.same((await get(ctx.app, `/canonical-ids/${encodeURIComponent('AB/CD%E?')}`)).body, {
    canonicalId: 'AB/CD%E?',
    sourceIdentifiers: [
      { ontologyType: 'Item', identifierType: 'sierra-system-number', value: 'i3', createdAt: '2020-01-01T00:00:00.000Z' },
      { ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b3', createdAt: '2020-01-01T00:00:00.000Z' },
    ],
  }, 'an ID holding / % ? is found when percent-encoded')
  t.same(await get(ctx.app, '/canonical-ids/abcdefgh'), {
    status: 404,
    body: { statusCode: 404, error: 'Not Found', message: 'Canonical ID abcdefgh is not known' },
  }, 'matched case-sensitively: the legacy table compared case-insensitively, ours does not')
})

t.test('GET /canonical-ids/{canonicalId} answers 404 for an unknown ID, and says when the ID is registered but no identifier has it', async (t) => {
  const ctx = await setup(t, 'lookup-canonical-404')
  t.same(await get(ctx.app, '/canonical-ids/zzzz2222'), {
    status: 404,
    body: { statusCode: 404, error: 'Not Found', message: 'Canonical ID zzzz2222 is not known' },
  })
  // A legacy ID given out that no key uses: db:import registers it so it is never minted again.
  await ctx.sql("INSERT INTO canonical_ids (CanonicalId, Status) VALUES ('qqqq3333', 'assigned')")
  t.same(await get(ctx.app, '/canonical-ids/qqqq3333'), {
    status: 404,
    body: { statusCode: 404, error: 'Not Found', message: 'Canonical ID qqqq3333 is registered, so it will never be minted again, but no source identifier has it' },
  })
})

t.test('GET /canonical-ids/{canonicalId} answers 400 when the text cannot be a stored canonical ID (8 printable ASCII characters, no spaces)', async (t) => {
  const ctx = await setup(t, 'lookup-canonical-400')
  for (const text of ['abc', 'abcdefg', 'abcdefghj', 'abc defg', 'abcdefg\t', 'abcdefgé', 'abcdefg\u0000', 'ａbcdefgh']) {
    const { status, body } = await get(ctx.app, `/canonical-ids/${encodeURIComponent(text)}`)
    t.equal(status, 400, JSON.stringify(text))
    t.same(body, { statusCode: 400, error: 'Bad Request', message: 'params/canonicalId must match pattern "^[!-~]{8}$"' })
  }
  for (const text of ['ABCDEFGH', 'ab!~"{}\\', '12345678']) {
    t.equal((await get(ctx.app, `/canonical-ids/${encodeURIComponent(text)}`)).status, 404, `${text} has the shape: looked up, not refused`)
  }
})

t.test('GET /source-identifiers answers the canonical ID and the identifier as stored; a Person finds the Concept mapping', async (t) => {
  const ctx = await setup(t, 'lookup-source')
  const work = makeWork({ value: 'b1', nested: 3 })
  await ctx.seed([work])
  t.equal((await mint(ctx.app, { sourceIdentifiers: [work.id] })).status, 200)
  const rows = await storedRows(ctx)
  const stored = row(rows, 'Work', 'sierra-system-number', 'b1')
  t.same(await get(ctx.app, query('Work', 'sierra-system-number', 'b1')), {
    status: 200,
    body: { canonicalId: stored.canonicalId, sourceIdentifier: ask('Work', 'sierra-system-number', 'b1'), createdAt: stored.createdAt },
  })

  const concept = row(rows, 'Concept', 'lc-names', 'b1-n2')
  for (const ontologyType of ['Person', 'Agent', 'Organisation', 'Concept']) {
    t.same(
      await get(ctx.app, query(ontologyType, 'lc-names', 'b1-n2')),
      { status: 200, body: { canonicalId: concept.canonicalId, sourceIdentifier: ask('Concept', 'lc-names', 'b1-n2'), createdAt: concept.createdAt } },
      `${ontologyType} is answered with the Concept mapping, stored as Concept`,
    )
  }
  t.same(await get(ctx.app, query('Work', 'sierra-system-number', 'b404')), {
    status: 404,
    body: { statusCode: 404, error: 'Not Found', message: 'No canonical ID has been minted for Work sierra-system-number/b404' },
  })
  t.same((await get(ctx.app, query('Person', 'lc-names', 'n404'))).body.message, 'No canonical ID has been minted for Person lc-names/n404 (looked up as Concept)')
  t.equal((await get(ctx.app, query('person', 'lc-names', 'b1-n2'))).status, 404, 'ontology types are case-sensitive, as in a mint')
})

t.test('GET /source-identifiers matches text exactly: case, trailing space, Unicode form, + & = and quotes', async (t) => {
  const ctx = await setup(t, 'lookup-exact')
  const values = ['B1', 'b1 ', 'é', 'a+b c', 'x&y=z', "O'Brien", '漢字🦉', 'é'.repeat(510)]
  await storeMappings(ctx, values.map((value, i) => ['Work', 'sierra-system-number', value, `exact${String(i).padStart(3, '0')}`] as [string, string, string, string]))
  for (const [i, value] of values.entries()) {
    const { status, body } = await get(ctx.app, query('Work', 'sierra-system-number', value))
    t.equal(status, 200, JSON.stringify(value).slice(0, 30))
    t.equal(body.canonicalId, `exact${String(i).padStart(3, '0')}`)
    t.equal(body.sourceIdentifier.value, value)
  }
  for (const value of ['b1', 'B1 ', 'e\u0301', 'a b c', 'a+b+c']) {
    t.equal((await get(ctx.app, query('Work', 'sierra-system-number', value))).status, 404, `${JSON.stringify(value)} is another identifier`)
  }
  // A form-encoded space (+) is a space, as in any query string.
  t.equal((await get(ctx.app, '/source-identifiers?ontologyType=Work&identifierType=sierra-system-number&value=a%2Bb+c')).body.canonicalId, 'exact003')
})

t.test('GET /source-identifiers answers 400 for a missing, empty, repeated, over-long or wrongly encoded parameter', async (t) => {
  const ctx = await setup(t, 'lookup-source-400')
  const cases: Array<[string, string]> = [
    ['/source-identifiers?ontologyType=Work&identifierType=sierra-system-number', "querystring must have required property 'value'"],
    ['/source-identifiers', "querystring must have required property 'ontologyType'"],
    [query('Work', 'sierra-system-number', ''), 'querystring/value must NOT have fewer than 1 characters'],
    [`${query('Work', 'sierra-system-number', 'b1')}&value=b2`, 'querystring/value must be string'],
    [query('Work', 'sierra-system-number', `${'é'.repeat(510)}a`), 'querystring/value must NOT be longer than 1020 bytes in UTF-8'],
    [query('W'.repeat(65), 'sierra-system-number', 'b1'), 'querystring/ontologyType must NOT have more than 64 characters'],
    [query('Wörk'.repeat(13), 'sierra-system-number', 'b1'), 'querystring/ontologyType must NOT be longer than 64 bytes in UTF-8'],
    [query('Work', 's'.repeat(256), 'b1'), 'querystring/identifierType must NOT have more than 255 characters'],
    ['/source-identifiers?ontologyType=Work&identifierType=sierra-system-number&value=%E9', 'querystring must be percent-encoded UTF-8'],
    ['/source-identifiers?ontologyType=Work&identifierType=sierra-system-number&value=%ED%A0%80', 'querystring must be percent-encoded UTF-8'],
  ]
  for (const [url, message] of cases) {
    t.same(await get(ctx.app, url), { status: 400, body: { statusCode: 400, error: 'Bad Request', message } }, url.slice(0, 100))
  }
  t.equal((await get(ctx.app, query('Work', 'sierra-system-number', 'é'.repeat(510)))).status, 404, 'exactly 1020 bytes is a value: looked up')
})

t.test('POST /source-identifiers/lookup answers found and missing in request order, each echoing what was asked', async (t) => {
  const ctx = await setup(t, 'lookup-bulk')
  const work = makeWork({ value: 'b1', nested: 3 })
  await ctx.seed([work])
  t.equal((await mint(ctx.app, { sourceIdentifiers: [work.id] })).status, 200)
  const rows = await storedRows(ctx)
  const stored = row(rows, 'Work', 'sierra-system-number', 'b1')
  const concept = row(rows, 'Concept', 'lc-names', 'b1-n2')
  const item = row(rows, 'Item', 'sierra-system-number', 'b1-item0')

  const { status, body } = await lookup(ctx.app, {
    sourceIdentifiers: [
      ask('Work', 'sierra-system-number', 'b404'),
      ask('Person', 'lc-names', 'b1-n2'),
      ask('Work', 'sierra-system-number', 'b1'),
      { ...ask('Agent', 'lc-names', 'b1-n2'), label: 'ignored' },
      ask('Work', 'sierra-system-number', 'b1'),
      ask('Item', 'sierra-system-number', 'b1-item0'),
      ask('Person', 'lc-names', 'n404'),
    ],
  })
  t.equal(status, 200)
  t.same(body, {
    found: [
      { requested: ask('Person', 'lc-names', 'b1-n2'), canonicalId: concept.canonicalId, sourceIdentifier: ask('Concept', 'lc-names', 'b1-n2'), createdAt: concept.createdAt },
      { requested: ask('Work', 'sierra-system-number', 'b1'), canonicalId: stored.canonicalId, sourceIdentifier: ask('Work', 'sierra-system-number', 'b1'), createdAt: stored.createdAt },
      { requested: ask('Agent', 'lc-names', 'b1-n2'), canonicalId: concept.canonicalId, sourceIdentifier: ask('Concept', 'lc-names', 'b1-n2'), createdAt: concept.createdAt },
      { requested: ask('Item', 'sierra-system-number', 'b1-item0'), canonicalId: item.canonicalId, sourceIdentifier: ask('Item', 'sierra-system-number', 'b1-item0'), createdAt: item.createdAt },
    ],
    missing: [ask('Work', 'sierra-system-number', 'b404'), ask('Person', 'lc-names', 'n404')],
  }, 'a repeat is answered once; Person and Agent are two questions with one answer')
})

t.test('POST /source-identifiers/lookup answers 1,000 identifiers at once, and refuses 1,001', async (t) => {
  const ctx = await setup(t, 'lookup-bulk-1000')
  // Every other identifier is stored, over three ontology types and two systems.
  const kinds: Array<[string, string]> = [['Work', 'sierra-system-number'], ['Item', 'sierra-system-number'], ['Work', 'miro-image-number']]
  const asked = Array.from({ length: 1000 }, (_, i) => ask(...(kinds[i % 3] as [string, string]), `v${i}`))
  const expectedIds = new Map<number, string>()
  const mappings: Array<[string, string, string, string]> = []
  for (const [i, identifier] of asked.entries()) {
    if (i % 2 === 1) continue
    const canonicalId = `k${String(i).padStart(7, '0')}`
    expectedIds.set(i, canonicalId)
    mappings.push([identifier.ontologyType, identifier.identifierType, identifier.value, canonicalId])
  }
  await ctx.sql('INSERT INTO canonical_ids (CanonicalId, Status) VALUES ?', [mappings.map((m) => [m[3], 'assigned'])])
  await ctx.sql('INSERT INTO identifiers (OntologyType, SourceSystem, SourceId, CanonicalId) VALUES ?', [mappings])

  const { status, body } = await lookup(ctx.app, { sourceIdentifiers: asked })
  t.equal(status, 200)
  t.equal(body.found.length, 500)
  t.same(body.found.map((f: { requested: unknown }) => f.requested), asked.filter((_, i) => i % 2 === 0), 'found in request order')
  t.same(body.found.map((f: { canonicalId: string }) => f.canonicalId), [...expectedIds.values()], 'each with its own canonical ID')
  t.same(body.missing, asked.filter((_, i) => i % 2 === 1), 'the others missing, in request order')

  const over = await lookup(ctx.app, { sourceIdentifiers: [...asked, ask('Work', 'sierra-system-number', 'one-more')] })
  t.same(over, { status: 400, body: { statusCode: 400, error: 'Bad Request', message: 'body/sourceIdentifiers must NOT have more than 1000 items' } })
})

t.test('POST /source-identifiers/lookup answers 400 for a body that is not a look-up, naming the entry', async (t) => {
  const ctx = await setup(t, 'lookup-bulk-400')
  const good = ask('Work', 'sierra-system-number', 'b1')
  const cases: Array<[unknown, string]> = [
    [{}, "body must have required property 'sourceIdentifiers'"],
    [{ sourceIdentifiers: [] }, 'body/sourceIdentifiers must NOT have fewer than 1 items'],
    [{ sourceIdentifiers: ['Work[sierra-system-number/b1]'] }, 'body/sourceIdentifiers/0 must be object'],
    [{ sourceIdentifiers: [good, { ontologyType: 'Work', identifierType: 'sierra-system-number' }] }, "body/sourceIdentifiers/1 must have required property 'value'"],
    [{ sourceIdentifiers: [{ ...good, value: 1 }] }, 'body/sourceIdentifiers/0/value must be string'],
    [{ sourceIdentifiers: [{ ...good, identifierType: { id: 'sierra-system-number' } }] }, 'body/sourceIdentifiers/0/identifierType must be string'],
    [{ sourceIdentifiers: [{ ...good, ontologyType: '' }] }, 'body/sourceIdentifiers/0/ontologyType must NOT have fewer than 1 characters'],
    [{ sourceIdentifiers: [good, good, { ...good, value: 'b\ud800' }] }, 'body/sourceIdentifiers/2/value must be well-formed Unicode (it holds a lone surrogate)'],
    [{ sourceIdentifiers: [good, { ...good, identifierType: 'é'.repeat(128) }] }, 'body/sourceIdentifiers/1/identifierType must NOT be longer than 255 bytes in UTF-8'],
  ]
  for (const [payload, message] of cases) {
    t.same(await lookup(ctx.app, payload), { status: 400, body: { statusCode: 400, error: 'Bad Request', message } }, message)
  }
  const notJson = await ctx.app.inject({ method: 'POST', url: '/source-identifiers/lookup', payload: '{"sourceIdentifiers": [', headers: { 'content-type': 'application/json' } })
  t.equal(notJson.statusCode, 400)
  const text = await ctx.app.inject({ method: 'POST', url: '/source-identifiers/lookup', payload: 'b1', headers: { 'content-type': 'text/plain' } })
  t.equal(text.statusCode, 400, 'text/plain is read as a string, which is not a look-up')
  const xml = await ctx.app.inject({ method: 'POST', url: '/source-identifiers/lookup', payload: '<b1/>', headers: { 'content-type': 'application/xml' } })
  t.same(xml.json(), { statusCode: 415, error: 'Unsupported Media Type', message: 'Unsupported Media Type' })
  const large = await ctx.app.inject({ method: 'POST', url: '/source-identifiers/lookup', payload: { sourceIdentifiers: [good], padding: 'x'.repeat(2 * 1024 * 1024) } })
  t.equal(large.statusCode, 413)

  // The longest identifiers a mint accepts, 1,000 of them, fit in the body limit.
  const longest = Array.from({ length: 1000 }, (_, i) => ask('O'.repeat(64), 's'.repeat(255), `${String(i).padStart(4, '0')}${'v'.repeat(1016)}`))
  const fits = await lookup(ctx.app, { sourceIdentifiers: longest })
  t.equal(fits.status, 200, '1,000 identifiers of the longest kind are looked up')
  t.equal(fits.body.missing.length, 1000)
})

t.test('GET /canonical-ids, GET /source-identifiers and POST /source-identifiers/lookup never mint: unknown identifiers and IDs leave the tables as they were', async (t) => {
  const ctx = await setup(t, 'lookup-read-only')
  t.same(await tableCounts(ctx), { identifiers: 0, canonicalIds: 0 }, 'an empty store')
  t.equal((await get(ctx.app, query('Work', 'sierra-system-number', 'b1'))).status, 404)
  t.equal((await get(ctx.app, query('Person', 'lc-names', 'n1'))).status, 404)
  t.equal((await get(ctx.app, '/canonical-ids/abcd2345')).status, 404)
  const bulk = await lookup(ctx.app, { sourceIdentifiers: [ask('Work', 'sierra-system-number', 'b1'), ask('Agent', 'lc-names', 'n1')] })
  t.same(bulk.body, { found: [], missing: [ask('Work', 'sierra-system-number', 'b1'), ask('Agent', 'lc-names', 'n1')] })
  t.same(await tableCounts(ctx), { identifiers: 0, canonicalIds: 0 }, 'still empty: nothing was minted or registered')

  const work = makeWork({ value: 'b2', nested: 2 })
  await ctx.seed([work])
  await mint(ctx.app, { sourceIdentifiers: [work.id] })
  const before = { counts: await tableCounts(ctx), rows: await storedRows(ctx) }
  await get(ctx.app, query('Work', 'sierra-system-number', 'b2'))
  await lookup(ctx.app, { sourceIdentifiers: [ask('Work', 'sierra-system-number', 'b2'), ask('Work', 'sierra-system-number', 'b3')] })
  t.same({ counts: await tableCounts(ctx), rows: await storedRows(ctx) }, before, 'a look-up beside stored mappings changes nothing either')
})

t.test('GET /canonical-ids, GET /source-identifiers and POST /source-identifiers/lookup take the same optional API keys as POST /mint', async (t) => {
  const ctx = await setup(t, 'lookup-keys', { API_KEYS: 'lookup-key-1' })
  const requests = [
    { method: 'GET' as const, url: query('Work', 'sierra-system-number', 'b1') },
    { method: 'GET' as const, url: '/canonical-ids/abcd2345' },
    { method: 'POST' as const, url: '/source-identifiers/lookup', payload: { sourceIdentifiers: [ask('Work', 'sierra-system-number', 'b1')] } },
  ]
  for (const request of requests) {
    for (const headers of [{}, { 'x-api-key': 'wrong' }]) {
      const response = await ctx.app.inject({ ...request, headers })
      t.equal(response.statusCode, 401, `${request.method} ${request.url} ${JSON.stringify(headers)}`)
      t.equal(response.json().message, 'A valid API key is required: send it in the x-api-key header or as a Bearer token')
    }
    for (const headers of [{ 'x-api-key': 'lookup-key-1' }, { authorization: 'Bearer lookup-key-1' }]) {
      const response = await ctx.app.inject({ ...request, headers })
      t.equal(response.statusCode, request.method === 'POST' ? 200 : 404, `${request.method} ${request.url} with a key is answered`)
    }
  }
})

t.test('GET /canonical-ids, GET /source-identifiers and POST /source-identifiers/lookup read the replica, and ask the primary for what it has not seen yet', async (t) => {
  const ctx = await setup(t, 'lookup-replica', { cluster_url_readonly: '127.0.0.1', max_connections: '1' })
  await storeMappings(ctx, [['Work', 'sierra-system-number', 'b-old', 'oldd2345']])
  // The replica's only connection holds a snapshot from here on: it reads the past (replica.test.ts does the same).
  const replica = ctx.app.database.replicaPool!
  const lagging = await replica.getConnection()
  await lagging.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')
  await lagging.query('START TRANSACTION WITH CONSISTENT SNAPSHOT')
  await lagging.query('SELECT COUNT(*) FROM identifiers')
  lagging.release()
  t.teardown(async () => {
    const connection = await replica.getConnection()
    await connection.query('COMMIT')
    connection.release()
  })

  // Changed on the primary after the snapshot: the replica still answers what it saw.
  await ctx.sql("UPDATE identifiers SET SourceId = 'b-renamed' WHERE SourceId = 'b-old'")
  t.equal((await get(ctx.app, query('Work', 'sierra-system-number', 'b-old'))).body.canonicalId, 'oldd2345', 'read from the replica')

  // Minted after the snapshot: only the primary has it, and the look-ups find it there.
  const work = makeWork({ value: 'b-new' })
  await ctx.seed([work])
  t.equal((await mint(ctx.app, { sourceIdentifiers: [work.id] })).status, 200)
  const minted = row(await storedRows(ctx), 'Work', 'sierra-system-number', 'b-new')
  t.equal((await get(ctx.app, query('Work', 'sierra-system-number', 'b-new'))).body.canonicalId, minted.canonicalId, 'GET /source-identifiers')
  t.equal((await get(ctx.app, `/canonical-ids/${minted.canonicalId}`)).body.sourceIdentifiers?.[0]?.value, 'b-new', 'GET /canonical-ids')
  const bulk = await lookup(ctx.app, { sourceIdentifiers: [ask('Work', 'sierra-system-number', 'b-new'), ask('Work', 'sierra-system-number', 'b-old')] })
  t.same(bulk.body.found.map((f: { canonicalId: string }) => f.canonicalId), [minted.canonicalId, 'oldd2345'], 'POST /source-identifiers/lookup')
  t.same(bulk.body.missing, [])
})

t.test('GET /canonical-ids, GET /source-identifiers and POST /source-identifiers/lookup answer 503 within LOOKUP_TIMEOUT_MS when the database goes silent, and recover', async (t) => {
  const proxy = await TcpProxy.start({ targetPort: 3306, mysql: true })
  t.teardown(() => proxy.close())
  const ctx = await setup(t, 'lookup-silent', { db_port: String(proxy.port), LOOKUP_TIMEOUT_MS: '1000' })
  t.equal((await get(ctx.app, query('Work', 'sierra-system-number', 'b1'))).status, 404, 'answers while the database does')
  proxy.blackhole()
  for (const request of [
    () => get(ctx.app, query('Work', 'sierra-system-number', 'b1')),
    () => get(ctx.app, '/canonical-ids/abcd2345'),
    () => lookup(ctx.app, { sourceIdentifiers: [ask('Work', 'sierra-system-number', 'b1')] }),
  ]) {
    const started = performance.now()
    const { status, body } = await request()
    const ms = performance.now() - started
    t.equal(status, 503)
    t.match(body, { statusCode: 503, error: 'Service Unavailable', message: /^Database unavailable: the request's 1000 ms ran out looking up/ })
    t.ok(ms < 2000, `answered within the budget (${Math.round(ms)} ms for 1000)`)
  }
  proxy.restore()
  t.equal((await get(ctx.app, query('Work', 'sierra-system-number', 'b1'))).status, 404, 'answers again once the database does')
})
