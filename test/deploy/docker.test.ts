// Dockerfile, .dockerignore and docker-compose.yml, checked without a Docker engine: the stages
// the spec names, a Lambda image as the default, a build stage whose files are enough to bundle
// (rehearsed here on a copy of exactly those files), and compose environments the service accepts.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { ConfigSchema, loadConfig } from '../../src/config.js'
import { cleanNode, isolatedConfig, prepareStores } from '../helpers.js'
import { localEnv } from '../../fixtures/local-env.js'
import { LAMBDA_CACHE_FLAGS } from '../../scripts/build-lambda.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')

interface Stage {
  name: string
  from: string
  /** Instructions with line continuations joined. */
  instructions: Array<{ keyword: string; args: string }>
}

function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const args: Record<string, string> = {}
  const stages: Stage[] = []
  for (const line of lines) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? []
    const upper = keyword.toUpperCase()
    if (upper === 'FROM') {
      const [, from = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) ?? []
      stages.push({ name: name || String(stages.length), from: from.replace(/\$\{(\w+)\}/g, (_, v: string) => args[v] ?? ''), instructions: [] })
    } else if (stages.length === 0 && upper === 'ARG') {
      const [name, value = ''] = rest.split('=')
      args[name!] = value
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args: rest })
    }
  }
  return { args, stages }
}

const { stages } = parseDockerfile(dockerfile)
const stage = (name: string) => stages.find((s) => s.name === name)
/** The stage and the stages it is built on, nearest first. */
function lineage(name: string): Stage[] {
  const chain: Stage[] = []
  for (let s = stage(name); s; s = stage(s.from)) chain.push(s)
  return chain
}
const baseImage = (name: string) => lineage(name).at(-1)!.from
/** The instruction in effect: the last one in the stage or, failing that, in what it is built on. */
const effective = (name: string, keyword: string) =>
  lineage(name)
    .map((s) => s.instructions.filter((i) => i.keyword === keyword).at(-1))
    .find(Boolean)?.args

/** .dockerignore as patterns: a path is excluded when a pattern matches it or a folder above it. */
function dockerIgnored(t: Test): (path: string) => boolean {
  const patterns = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
  t.notOk(patterns.some((p) => p.startsWith('!')), 'no exceptions (not simulated)')
  // eslint-disable-next-line no-control-regex -- NUL stands in for ** while * is rewritten
  const regexes = patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '.*')}$`))
  return (path) => {
    const parts = path.split('/')
    return parts.some((_, i) => regexes.some((r) => r.test(parts.slice(0, i + 1).join('/'))))
  }
}

t.test('the stages the spec names exist, and a plain `docker build .` gives the Lambda image', async (t) => {
  for (const name of ['build', 'server', 'lambda_rie', 'stepfunction', 'sqs']) t.ok(stage(name), `stage ${name}`)
  const last = stages.at(-1)!
  t.equal(last.name, 'sqs', 'the default target is the SQS Lambda image (the spec: docker build -t id-minter-sqs .)')
  t.equal(baseImage(last.name), 'public.ecr.aws/lambda/nodejs:24', `the default (last) stage "${last.name}" is a Lambda Node.js 24 image`)
  t.same(lineage('sqs').slice(1).map((s) => s.name), lineage('stepfunction').slice(1).map((s) => s.name), 'the SQS and Step Functions images are built on the same bundle stage')
  t.same([stage('sqs')!.instructions, stage('stepfunction')!.instructions], [[], []], 'and add nothing to it: one handler recognises both kinds of event')
  for (const name of [last.name, 'stepfunction', 'lambda_rie']) {
    t.equal(baseImage(name), 'public.ecr.aws/lambda/nodejs:24', `${name} is built on the AWS Lambda Node.js 24 base image`)
    t.equal(effective(name, 'CMD'), '["index.handler"]', `${name} runs index.handler`)
    t.match(lineage(name).flatMap((s) => s.instructions).find((i) => i.keyword === 'COPY')?.args, /^--from=build \S+ \$\{LAMBDA_TASK_ROOT\}\/$/)
  }
  t.match(effective('lambda_rie', 'EXPOSE'), /\b8080\b/, 'the emulator port')
})

t.test('the server image runs dist/server.js on node:24-slim as a non-root user, with a health check', async (t) => {
  t.equal(baseImage('server'), 'node:24-slim')
  t.equal(effective('server', 'CMD'), '["node", "dist/server.js"]')
  const user = effective('server', 'USER')
  t.ok(user && !/^(root|0)(:|$)/.test(user), `runs as ${user}`)
  t.match(effective('server', 'HEALTHCHECK'), /\/health\/live'/, 'liveness only: a dependency outage must not get every container replaced')
  t.match(effective('server', 'ENV'), /HOST=0\.0\.0\.0/, 'listens on every interface, not the container’s loopback')
  const copies = stage('server')!.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args)
  t.ok(copies.some((c) => /^migrations \.\/migrations$/.test(c)), 'migrations sit where dist/services/identifier-store/database.js looks (../../../migrations)')
  t.ok(copies.some((c) => /--from=prod_deps/.test(c)), 'production dependencies only')
  t.match(stage('prod_deps')!.instructions.find((i) => i.keyword === 'RUN')?.args, /npm ci --omit=dev/)
})

t.test('the build stage’s files are enough to bundle the Lambda and to run the compose setup service', async (t) => {
  const build = stage('build')!
  const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)
  t.ok(runs.some((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev')), 'dev dependencies (esbuild, tsx, typescript) are installed')
  const buildRun = runs.find((r) => r.includes('build:lambda'))
  t.ok(buildRun, 'npm run build:lambda runs')
  t.match(buildRun, /npm run build\b/, 'and npm run build')
  const outDir = /--out-dir (\S+)/.exec(buildRun ?? '')?.[1] ?? 'dist/lambda'
  const lambdaCopy = lineage(stages.at(-1)!.name).flatMap((s) => s.instructions).find((i) => i.keyword === 'COPY')!.args
  t.equal(/--from=build (\S+)/.exec(lambdaCopy)?.[1], `/app/${outDir}/`, 'the Lambda images copy what build:lambda wrote')

  // Rehearse the stage: its COPY instructions (minus .dockerignore), node_modules standing in for npm ci.
  const ignored = dockerIgnored(t)
  const app = mkdtempSync(join(tmpdir(), 'id-minter-docker-'))
  t.teardown(() => rmSync(app, { recursive: true, force: true }))
  for (const copy of build.instructions.filter((i) => i.keyword === 'COPY')) {
    const parts = copy.args.split(/\s+/)
    t.notOk(parts[0]!.startsWith('--'), `COPY ${copy.args} copies from the context`)
    const destination = parts.pop()!
    for (const source of parts) {
      t.ok(existsSync(join(root, source)), `${source} exists`)
      t.notOk(ignored(source), `${source} is not excluded by .dockerignore`)
      const target = destination.endsWith('/') || parts.length > 1 ? join(app, destination, source.split('/').at(-1)!) : join(app, destination)
      cpSync(join(root, source), target, { recursive: true, filter: (from) => !ignored(relative(root, from)) || from === root })
    }
  }
  symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'), 'dir')
  const { NODE_OPTIONS: _ignored, ...env } = process.env
  const buildFlags = ['--no-zip', ...(buildRun?.includes('--no-code-cache') ? ['--no-code-cache'] : []), '--out-dir', outDir]
  const bundle = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build-lambda.ts', ...buildFlags], {
    cwd: app,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  })
  t.equal(bundle.status, 0, `build:lambda in the build stage: ${bundle.stdout}${bundle.stderr}`)
  t.ok(statSync(join(app, outDir, 'index.mjs')).size > 0, 'index.mjs')
  t.ok(existsSync(join(app, outDir, 'migrations', 'meta', '_journal.json')), 'migrations')

  // The Lambda stage rewrites the code cache with the image's node: rehearse it, then check that V8
  // takes that cache under the runtime's flags.
  const lambdaBase = stage('lambda_base')!
  const rewrite = lambdaBase.instructions.find((i) => i.keyword === 'RUN' && i.args.includes('--write-code-cache'))?.args
  t.ok(rewrite, 'the Lambda image writes its own code cache')
  for (const flag of LAMBDA_CACHE_FLAGS) t.match(rewrite, flag, `under the runtime's ${flag}`)
  const taskRoot = join(app, outDir)
  const rehearsal = spawnSync('bash', ['-c', (rewrite ?? 'false').replace('${LAMBDA_TASK_ROOT}', taskRoot)], {
    env: { PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
    encoding: 'utf8',
    timeout: 60_000,
  })
  t.equal(rehearsal.status, 0, `RUN ${rewrite}: ${rehearsal.stdout}${rehearsal.stderr}`)
  const environment = { PATH: process.env.PATH ?? '', ...localEnv, APPLY_MIGRATIONS: 'false', LOG_LEVEL: 'silent' }
  const importEntry = `const m = await import(${JSON.stringify(pathToFileURL(join(taskRoot, 'index.mjs')).href)}); process.stdout.write(m.codeCache); process.exit(0)`
  const [probeCommand, probeArgs] = cleanNode(environment, ['--expose-gc', '--max-semi-space-size=25', '--max-old-space-size=460', '--input-type=module', '-e', importEntry])
  t.equal(spawnSync(probeCommand, probeArgs, { encoding: 'utf8', timeout: 60_000 }).stdout, 'accepted', "V8 takes the image's cache under the runtime's flags for 512 MB")

  // The compose `setup` service's command, against this test's own indices.
  const config = isolatedConfig('docker-setup')
  const es = await prepareStores(t, config)
  const compose = parseYaml(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true })
  t.equal(compose.services.setup.build.target, 'build')
  const [command, ...args] = compose.services.setup.command as string[]
  t.same([command, args[0]], ['npx', 'tsx'])
  const setup = spawnSync(process.execPath, ['--import', 'tsx', ...args.slice(1)], {
    cwd: app,
    env: { ...env, IDENTIFIERS_DATABASE: config.IDENTIFIERS_DATABASE, es_source_index: config.es_source_index, es_identified_index: config.es_identified_index },
    encoding: 'utf8',
    timeout: 60_000,
  })
  t.equal(setup.status, 0, `setup: ${setup.stdout}${setup.stderr}`)
  t.ok(await es.exists({ index: config.es_source_index, id: 'sierra-123456' }), 'the sample works are seeded')
})

t.test('docker-compose.yml: the services scripts/services.sh starts, and environments the service accepts', async (t) => {
  const compose = parseYaml(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true })
  const services = compose.services as Record<string, any>

  const servicesScript = readFileSync(join(root, 'scripts', 'services.sh'), 'utf8')
  const started = [...servicesScript.matchAll(/^\s*compose_up (\w+)\s*$/gm)].map((m) => m[1]!)
  t.same([...new Set(started)].sort(), ['elasticmq', 'elasticsearch', 'mysql'])
  for (const name of started) t.ok(services[name], `service ${name}`)

  t.match(services.mysql.image, /^mysql:8/)
  t.match(services.mysql.ports, ['3306:3306'])
  t.match(services.elasticsearch.image, /elasticsearch:8\.19\.21$/)
  t.equal(services.elasticsearch.environment['xpack.security.enabled'], 'false')
  t.equal(services.elasticsearch.environment['discovery.type'], 'single-node')
  t.match(services.elasticsearch.ports, ['9200:9200'])
  t.match(services.elasticmq.image, /^softwaremill\/elasticmq-native/)
  t.match(services.elasticmq.ports, ['9324:9324'])

  t.equal(services['id-minter'].build.target, 'server')
  t.equal(services['stepfunction-lambda'].build.target, 'lambda_rie')
  t.ok(services['stepfunction-lambda'].ports.includes('9001:8080'), 'the spec’s port 9001 reaches the emulator')
  t.equal(services['sqs-lambda'].build.target, 'lambda_rie')
  t.equal(loadConfig(services['sqs-lambda'].environment).use_downstream, 'stdio', 'the local SQS Lambda writes its canonical IDs to stdout')
  for (const name of ['id-minter', 'stepfunction-lambda', 'sqs-lambda', 'setup']) t.ok(stage(services[name].build.target), `${name}: Dockerfile has target ${services[name].build.target}`)

  const schemaNames = Object.keys(ConfigSchema.properties)
  const required = (ConfigSchema.required ?? []).filter((n) => !('default' in (ConfigSchema.properties as Record<string, object>)[n]!))
  const mysqlEnv = services.mysql.environment
  for (const name of ['id-minter', 'stepfunction-lambda', 'sqs-lambda', 'setup']) {
    const env = services[name].environment as Record<string, string>
    for (const key of Object.keys(env)) t.ok(schemaNames.includes(key), `${name}: ${key} is read by src/config.ts`)
    for (const key of required) t.ok(env[key], `${name}: required ${key} is set`)
    const config = loadConfig(env)
    t.equal(config.cluster_url, 'mysql', `${name} reaches the mysql service`)
    t.equal(config.es_upstream_host, 'elasticsearch')
    t.equal(config.es_downstream_host, 'elasticsearch')
    t.equal(config.es_upstream_protocol, 'http', 'security is disabled, so plain http')
    t.ok(
      (config.db_username === 'root' && config.db_password === '' && mysqlEnv.MYSQL_ALLOW_EMPTY_PASSWORD === 'yes') ||
        config.db_password === mysqlEnv.MYSQL_ROOT_PASSWORD,
      `${name}: the database credentials match the mysql service`,
    )
  }
  t.equal(loadConfig(services['id-minter'].environment).HOST, '0.0.0.0')
  for (const name of ['id-minter', 'stepfunction-lambda', 'sqs-lambda']) {
    t.equal(services[name].depends_on.setup.condition, 'service_completed_successfully', `${name} waits for the indices`)
    t.equal(services[name].depends_on.mysql.condition, 'service_healthy')
  }
})
