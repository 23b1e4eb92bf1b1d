/**
 * The Swagger UI end to end, in a real browser: open /documentation, expand POST /mint, "Try it
 * out" with the example body, "Execute", and check what the page shows and what was really written;
 * then "Try it out" on GET /canonical-ids/{canonicalId} with the minted work's ID typed in.
 *
 * Needs the distribution's chromium at /usr/bin/chromium (`bash scripts/ensure-chromium.sh`, as root).
 * When it is missing this test fails saying so; it is never skipped.
 */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import { dirname } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import t from 'tap'
import { devSampleWorks } from '../../fixtures/works.js'
import { setup } from '../helpers.js'

const CHROMIUM = '/usr/bin/chromium'
/** Every browser step waits at most this long. */
const STEP_TIMEOUT = 30_000
const SCREENSHOT = fileURLToPath(new URL('../../test-artifacts/swagger-ui-mint.png', import.meta.url))
const LOOKUP_SCREENSHOT = fileURLToPath(new URL('../../test-artifacts/swagger-ui-lookup.png', import.meta.url))

/** A console error or page error that means the page's content policy blocked something, or a script did not load. */
const BLOCKED = /content.security.policy|refused to (load|execute|apply|connect)|failed to load|loading (module|chunk|script)/i

t.test('Try it out on POST /mint in the Swagger UI mints the example works, and GET /canonical-ids/{canonicalId} looks one up', { timeout: 120_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(`chromium is missing: ${CHROMIUM} does not exist. Install it with \`bash scripts/ensure-chromium.sh\` (as root) and run this test again.`)
    return
  }

  const ctx = await setup(t, 'e2e_swagger_ui')
  await ctx.seed(devSampleWorks())
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  const base = `http://127.0.0.1:${port}`

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_TIMEOUT,
    // No persistent context: playwright gives every launch a fresh temporary profile.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  t.teardown(() => browser.close())

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  page.setDefaultTimeout(STEP_TIMEOUT)
  page.setDefaultNavigationTimeout(STEP_TIMEOUT)

  const consoleErrors: string[] = []
  const pageErrors: string[] = []
  const failedRequests: string[] = []
  const violations: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text())
  })
  page.on('pageerror', (error) => pageErrors.push(String(error)))
  page.on('requestfailed', (request) => failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`))
  page.on('response', (response) => {
    if (response.status() >= 400) failedRequests.push(`${response.request().method()} ${response.url()}: HTTP ${response.status()}`)
  })
  // The browser's own report of a blocked resource or inline script, whether or not it logs one.
  await page.exposeFunction('__reportCspViolation', (text: string) => violations.push(text))
  // (A string: the test code is compiled without the DOM library.)
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (event) => {
      window.__reportCspViolation(event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline') + ' (' + event.sourceFile + ':' + event.lineNumber + ')')
    })`,
  })

  const response = await page.goto(`${base}/documentation`, { waitUntil: 'load' })
  t.equal(response?.status(), 200, '/documentation answers 200')

  // The operation block of POST /mint (tag "minting"), collapsed until its summary is clicked.
  const operation = page.locator('.opblock.opblock-post').filter({ has: page.locator('.opblock-summary-path', { hasText: /^\/mint$/ }) })
  await operation.waitFor({ state: 'visible' })
  await operation.locator('.opblock-summary').first().click()
  await operation.locator('button.try-out__btn').click()

  // The request body editor holds the schema's example.
  const editor = operation.locator('textarea.body-param__text')
  await editor.waitFor({ state: 'visible' })
  const example = JSON.parse(await editor.inputValue()) as { sourceIdentifiers: string[] }
  t.same(example.sourceIdentifiers, ['sierra-123456', 'miro-789012', 'calm-uuid-here'], 'the body editor holds the example request')

  const minted = page.waitForResponse((r) => r.url() === `${base}/mint` && r.request().method() === 'POST')
  await operation.locator('button.execute').click()
  const mintResponse = await minted
  t.equal(mintResponse.status(), 200, 'the browser got 200 from POST /mint')

  // What the page shows for the live response.
  const live = operation.locator('.live-responses-table .response').first()
  await live.waitFor({ state: 'visible' })
  const shownStatus = (await live.locator('.response-col_status').innerText()).trim()
  t.equal(shownStatus, '200', 'the response code shown is 200')
  const shownBody = (await live.locator('.response-col_description .highlight-code pre').first().innerText()).trim()
  let body: { successes?: string[]; failures?: Array<{ sourceIdentifier: string; error: string }>; jobId?: string } = {}
  try {
    body = JSON.parse(shownBody)
  } catch {
    t.fail(`the response body shown is not JSON: ${shownBody.slice(0, 500)}`)
  }
  t.ok(body.successes?.includes('sierra-123456'), 'the body shown lists sierra-123456 in successes', { shownBody })
  t.same(body.successes, ['sierra-123456', 'miro-789012'], 'both seeded works succeeded')
  t.equal(body.failures?.length, 1, 'one failure is shown')
  t.equal(body.failures?.[0]?.sourceIdentifier, 'calm-uuid-here', 'the failure is calm-uuid-here')
  t.match(body.failures?.[0]?.error, /^Failed to mint ID for calm-uuid-here/, 'with its failure message')
  t.equal(body.jobId, 'optional-job-identifier', 'the example jobId is echoed')

  await mkdir(dirname(SCREENSHOT), { recursive: true })
  // The page from its top down to the end of the live response (request, curl, status, body, headers).
  const bottom = await live.evaluate((element) => Math.ceil(element.getBoundingClientRect().bottom + (globalThis as unknown as { scrollY: number }).scrollY) + 16)
  await page.screenshot({ path: SCREENSHOT, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: bottom } })
  t.comment(`screenshot: ${SCREENSHOT}`)

  // The works were really minted: rows in the database, documents in the identified index.
  const mappings = await ctx.mappings()
  for (const [sourceSystem, sourceId] of [
    ['sierra-system-number', 'b1234567'],
    ['miro-image-number', 'V0789012'],
  ] as const) {
    const row = mappings.find((m) => m.OntologyType === 'Work' && m.SourceSystem === sourceSystem && m.SourceId === sourceId)
    t.ok(row, `the database maps Work ${sourceSystem}/${sourceId}`)
    if (row) t.ok(await ctx.identified(row.CanonicalId), `the identified index holds ${row.CanonicalId}`)
  }
  t.notOk(
    mappings.some((m) => m.SourceId.includes('calm-uuid-here')),
    'nothing was minted for the missing calm-uuid-here',
  )

  // Look the minted work's canonical ID up: GET /canonical-ids/{canonicalId}, "Try it out" with the ID typed in.
  const sample = mappings.find((m) => m.OntologyType === 'Work' && m.SourceSystem === 'sierra-system-number' && m.SourceId === 'b1234567')
  if (sample) {
    const lookupBlock = page.locator('.opblock.opblock-get').filter({ has: page.locator('.opblock-summary-path', { hasText: /^\/canonical-ids\/\{canonicalId\}$/ }) })
    await lookupBlock.waitFor({ state: 'visible' })
    await lookupBlock.locator('.opblock-summary').first().click()
    await lookupBlock.locator('button.try-out__btn').click()
    const idInput = lookupBlock.locator('tr[data-param-name="canonicalId"] input')
    await idInput.waitFor({ state: 'visible' })
    t.equal(await idInput.inputValue(), 'a2b3c4d5', 'the parameter holds the example ID')
    await idInput.fill(sample.CanonicalId)
    const lookedUp = page.waitForResponse((r) => r.url() === `${base}/canonical-ids/${sample.CanonicalId}` && r.request().method() === 'GET')
    await lookupBlock.locator('button.execute').click()
    t.equal((await lookedUp).status(), 200, 'the browser got 200 from GET /canonical-ids/{canonicalId}')
    const lookupLive = lookupBlock.locator('.live-responses-table .response').first()
    await lookupLive.waitFor({ state: 'visible' })
    t.equal((await lookupLive.locator('.response-col_status').innerText()).trim(), '200', 'the response code shown is 200')
    const shownLookup = (await lookupLive.locator('.response-col_description .highlight-code pre').first().innerText()).trim()
    let lookupBody: { canonicalId?: string; sourceIdentifiers?: Array<Record<string, string>> } = {}
    try {
      lookupBody = JSON.parse(shownLookup)
    } catch {
      t.fail(`the look-up body shown is not JSON: ${shownLookup.slice(0, 500)}`)
    }
    t.equal(lookupBody.canonicalId, sample.CanonicalId, 'the body shown names the canonical ID')
    t.match(lookupBody.sourceIdentifiers, [{ ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b1234567', createdAt: /^\d{4}-\d\d-\d\dT[\d:.]+Z$/ }], 'and the work\'s source identifier behind it')
    t.equal(lookupBody.sourceIdentifiers?.length, 1)
    const lookupBottom = await lookupLive.evaluate((element) => Math.ceil(element.getBoundingClientRect().bottom + (globalThis as unknown as { scrollY: number }).scrollY) + 16)
    const lookupTop = await lookupBlock.evaluate((element) => Math.floor(element.getBoundingClientRect().top + (globalThis as unknown as { scrollY: number }).scrollY) - 16)
    await page.screenshot({ path: LOOKUP_SCREENSHOT, fullPage: true, clip: { x: 0, y: Math.max(0, lookupTop), width: 1280, height: lookupBottom - Math.max(0, lookupTop) } })
    t.comment(`screenshot: ${LOOKUP_SCREENSHOT}`)
  }

  const blocked = [...violations, ...consoleErrors.filter((e) => BLOCKED.test(e)), ...pageErrors.filter((e) => BLOCKED.test(e))]
  t.same(blocked, [], 'no content security policy violation and no script failed to load')
  t.same(pageErrors, [], 'no uncaught error in the page')
  t.same(failedRequests, [], 'every request the page made succeeded')
  const otherErrors = consoleErrors.filter((e) => !BLOCKED.test(e))
  if (otherErrors.length > 0) t.comment(`other console errors: ${JSON.stringify(otherErrors)}`)
})
