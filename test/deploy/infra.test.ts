// infra/: the state machines are valid ASL wired to this service's real answer and error names,
// the IAM policy is the one the spec lists, and Terraform deploys the zip with the configuration
// src/config.ts reads.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigSchema } from '../../src/config.js'
import { MintingError } from '../../src/front-doors/step-functions.js'
import { DependencyUnavailableError } from '../../src/services/errors.js'
import { allStates, LAMBDA_ARN, machine, machineFiles, machinesDir, rawMachine, type Json } from './asl.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const hasTerraform = spawnSync('terraform', ['version'], { stdio: 'ignore' }).status === 0

// asl-validator is CommonJS without type declarations.
const aslValidator = createRequire(import.meta.url)('asl-validator') as (definition: unknown) => {
  isValid: boolean
  errorsText: (separator?: string) => string
}

const errorNames = (state: Json, field: 'Retry' | 'Catch'): string[] =>
  ((state[field] ?? []) as Array<{ ErrorEquals: string[] }>).flatMap((r) => r.ErrorEquals)

t.test('every state machine is valid ASL once ${lambda_arn} is substituted, and invokes the Lambda', async (t) => {
  t.same(machineFiles, ['batch-map.asl.json', 'mint-workflow.asl.json', 'reprocess-full.asl.json', 'reprocess-window.asl.json', 'retry-catch.asl.json'])
  for (const file of machineFiles) {
    const placeholders = [...rawMachine(file).matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1])
    t.same([...new Set(placeholders)], ['lambda_arn'], `${file}: the only template variable is the one main.tf passes`)
    const definition = machine(file)
    const { isValid, errorsText } = aslValidator(definition)
    t.ok(isValid, `${file}: ${isValid ? 'valid' : errorsText('\n')}`)
    const tasks = allStates(definition).filter(([, s]) => s.Type === 'Task')
    t.ok(tasks.length > 0, `${file} has a task`)
    for (const [name, task] of tasks) {
      t.equal(task.Resource, LAMBDA_ARN, `${file} ${name} invokes the id-minter function`)
      t.ok(task.TimeoutSeconds > 30, `${file} ${name}: the task outlives the function's 30 s timeout, so a Lambda timeout is reported as such`)
    }
  }
})

t.test('the error names the machines retry and catch are the ones the handler throws', async (t) => {
  t.equal(new DependencyUnavailableError('database', 'down').name, 'DependencyUnavailableError')
  t.equal(new MintingError('x').name, 'MintingError', 'the Step Functions front door throws MintingError by name')
  const known = /^(DependencyUnavailableError|MintingError|Sandbox\.Timedout|States\.(ALL|Timeout|TaskFailed)|Lambda\.[A-Za-z]+Exception)$/
  for (const file of machineFiles) {
    for (const [name, state] of allStates(machine(file)).filter(([, s]) => s.Type === 'Task')) {
      const retried = errorNames(state, 'Retry')
      t.ok(retried.includes('DependencyUnavailableError'), `${file} ${name} retries DependencyUnavailableError`)
      t.notOk(retried.includes('MintingError') || retried.includes('States.ALL'), `${file} ${name} does not retry unexpected errors`)
      for (const error of [...retried, ...errorNames(state, 'Catch')]) t.match(error, known, `${file} ${name}: ${error} is a real error name`)
    }
  }
  for (const file of machineFiles) {
    for (const [name, state] of allStates(machine(file)).filter(([, s]) => s.Type === 'Task')) {
      // A Lambda that runs out of time is reported as Sandbox.Timedout; the Task's own limit as States.Timeout.
      for (const error of ['Lambda.ServiceException', 'Lambda.TooManyRequestsException', 'States.Timeout', 'Sandbox.Timedout']) {
        t.ok(errorNames(state, 'Retry').includes(error), `${file} ${name} retries ${error}`)
      }
    }
  }
  const retryCatch = machine('retry-catch.asl.json').States.MintIds
  t.ok(errorNames(retryCatch, 'Catch').includes('States.ALL'), 'retry-catch catches everything else')
})

t.test('the batch Map mints batches of at most 100, the most one request takes', async (t) => {
  const { States } = machine('batch-map.asl.json')
  t.match(States.SplitIntoBatches.Parameters['batches.$'], /^States\.ArrayPartition\(\$\.sourceIdentifiers, 100\)$/)
  t.equal(States.MintBatches.Type, 'Map')
  t.equal(States.MintBatches.ItemsPath, '$.batches')
  t.equal(States.MintBatches.MaxConcurrency, 5)
  t.equal(States.MintBatches.ItemSelector['sourceIdentifiers.$'], '$$.Map.Item.Value')
  const { MAX_SOURCE_IDENTIFIERS } = await import('../../src/routes/mint.js')
  t.equal(MAX_SOURCE_IDENTIFIERS, 100)
})

t.test('the reprocess machines: the scheduled window ends 5 minutes before its schedule, the full reindex maps over slices at a concurrency its input sets', async (t) => {
  const window = machine('reprocess-window.asl.json').States
  t.equal(window.WindowBeforeSchedule.Parameters.request.window['endTime.$'], "States.Format('{}+00:05', States.ArrayGetItem(States.StringSplit($.scheduledTime, 'Z'), 0))")
  t.equal(new Date('2026-05-02T10:20:00+00:05').toISOString(), '2026-05-02T10:15:00.000Z', 'a time written at +00:05 is 5 minutes earlier in UTC')
  const full = machine('reprocess-full.asl.json').States
  t.equal(full.ReprocessSlices.Type, 'Map')
  t.equal(full.ReprocessSlices.MaxConcurrencyPath, '$.maxConcurrency')
  t.same(full.ReprocessSlices.ItemSelector.request.slice, { 'id.$': '$$.Map.Item.Value', 'max.$': '$.slices' })
  for (const [name, state] of [...allStates(machine('reprocess-window.asl.json')), ...allStates(machine('reprocess-full.asl.json'))].filter(([, s]) => s.Type === 'Task')) {
    t.ok(state.TimeoutSeconds > 900, `${name}: the task outlives any Lambda timeout (900 s at most), so the function's own timeout applies`)
    t.notOk(errorNames(state, 'Retry').includes('PointInTimeExpiredError'), `${name}: an expired point in time is not retried`)
  }
  const mainTf = readFileSync(join(root, 'infra', 'terraform', 'main.tf'), 'utf8')
  t.match(mainTf, /schedule_expression\s*=\s*var\.reprocess_window_schedule/)
  t.match(mainTf, /input\s*=\s*jsonencode\(\{ scheduledTime = "<aws\.scheduler\.scheduled-time>" \}\)/, 'the schedule sends its scheduled time, what the machine expects')
  t.match(readFileSync(join(root, 'infra', 'terraform', 'variables.tf'), 'utf8'), /default\s*=\s*"cron\(0\/15 \* \* \* \? \*\)"/, 'every 15 minutes')
})

t.test('the IAM policy grants what the spec lists and nothing for SQS or SNS', async (t) => {
  const raw = readFileSync(join(root, 'infra', 'iam', 'id-minter-policy.json'), 'utf8')
  const placeholders = new Set([...raw.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]))
  t.same([...placeholders].sort(), ['account_id', 'elasticsearch_domain', 'region'])
  const policy = JSON.parse(raw.replaceAll('${region}', 'eu-west-1').replaceAll('${account_id}', '123456789012').replaceAll('${elasticsearch_domain}', 'works'))
  t.equal(policy.Version, '2012-10-17')
  const actions = policy.Statement.flatMap((s: Json) => s.Action)
  // ESHttpDelete closes a reprocess job's point in time when it is done.
  for (const action of ['rds:DescribeDBInstances', 'es:ESHttpPost', 'es:ESHttpGet', 'es:ESHttpPut', 'es:ESHttpDelete', 'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents']) {
    t.ok(actions.includes(action), action)
  }
  t.notOk(actions.some((a: string) => /^(sqs|sns):/.test(a)), 'no downstream messaging permissions')
  for (const statement of policy.Statement) {
    t.equal(statement.Effect, 'Allow')
    t.match(statement.Resource, /^(\*|arn:aws:(es|logs):eu-west-1:123456789012:.+)$/)
  }
})

/** The Lambda environment map in main.tf: name = value lines inside `lambda_environment_all = { ... }`. */
function terraformEnvironment(mainTf: string): string[] {
  const block = /lambda_environment_all\s*=\s*\{([^}]*)\}/.exec(mainTf)?.[1] ?? ''
  return [...block.matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=/gm)].map((m) => m[1]!)
}

/** The variables the service cannot start without: not optional, and no default. */
const requiredConfig = () =>
  (ConfigSchema.required ?? []).filter((name) => !('default' in (ConfigSchema.properties as Record<string, object>)[name]!))

t.test('Terraform deploys the zip on nodejs24.x with the configuration the service reads', async (t) => {
  const mainTf = readFileSync(join(root, 'infra', 'terraform', 'main.tf'), 'utf8')
  t.match(mainTf, /runtime\s*=\s*"nodejs24\.x"/)
  t.match(mainTf, /handler\s*=\s*"index\.handler"/)
  t.match(mainTf, /source_code_hash\s*=\s*filebase64sha256\(var\.lambda_zip\)/)
  t.match(readFileSync(join(root, 'infra', 'terraform', 'variables.tf'), 'utf8'), /dist\/id-minter-lambda\.zip/)
  t.match(mainTf, /templatefile\("\$\{path\.module\}\/\.\.\/iam\/id-minter-policy\.json"/)
  t.match(mainTf, /templatefile\("\$\{path\.module\}\/\.\.\/state-machines\/\$\{each\.value\}", \{\s*lambda_arn\s*=/)
  for (const file of machineFiles) t.match(mainTf, `"${file}"`, `${file} is deployed`)

  const names = terraformEnvironment(mainTf)
  const schemaNames = Object.keys(ConfigSchema.properties)
  t.ok(names.length > 0)
  for (const name of names) t.ok(schemaNames.includes(name), `${name} is read by src/config.ts`)
  for (const name of requiredConfig()) t.ok(names.includes(name), `required ${name} is set`)
})

t.test('terraform renders the templates to the JSON that was validated, and the files are formatted', { skip: hasTerraform ? false : 'terraform is not installed' }, async (t) => {
  // terraform console needs no provider, so this runs offline.
  const dir = mkdtempSync(join(tmpdir(), 'id-minter-tf-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const render = (expression: string) => {
    const result = spawnSync('terraform', ['console'], { cwd: dir, input: `base64encode(${expression})\n`, encoding: 'utf8', timeout: 60_000, env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', CHECKPOINT_DISABLE: '1' } })
    t.equal(result.status, 0, result.stderr)
    return JSON.parse(Buffer.from(JSON.parse(result.stdout.trim()), 'base64').toString('utf8'))
  }
  for (const file of machineFiles) {
    const rendered = render(`templatefile("${join(machinesDir, file)}", { lambda_arn = "${LAMBDA_ARN}" })`)
    t.same(rendered, machine(file), `${file} renders as validated`)
  }
  const policy = render(`templatefile("${join(root, 'infra', 'iam', 'id-minter-policy.json')}", { region = "eu-west-1", account_id = "123456789012", elasticsearch_domain = "works" })`)
  t.equal(policy.Statement.length, 3)
  const fmt = spawnSync('terraform', ['fmt', '-check', '-recursive', join(root, 'infra', 'terraform')], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', CHECKPOINT_DISABLE: '1' },
  })
  t.equal(fmt.status, 0, `terraform fmt -check: ${fmt.stdout}${fmt.stderr}`)
})

/** A top-level block of a .tf file (`resource "type" "name" {` or `variable "name" {`), braces balanced. */
function terraformBlock(text: string, header: RegExp): string {
  const match = header.exec(text)
  if (!match) return ''
  let depth = 0
  for (let i = match.index; i < text.length; i++) {
    if (text[i] === '{') depth++
    else if (text[i] === '}' && --depth === 0) return text.slice(match.index, i + 1)
  }
  return ''
}

t.test("the SQS Lambda's own policy: consume the input queue, send to the downstream queue, nothing else", async (t) => {
  const raw = readFileSync(join(root, 'infra', 'iam', 'id-minter-sqs-policy.json'), 'utf8')
  t.same([...new Set([...raw.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]))].sort(), ['downstream_queue_arn', 'input_queue_arn'], 'the template variables sqs.tf passes')
  const input = 'arn:aws:sqs:eu-west-1:123456789012:id-minter-input'
  const downstream = 'arn:aws:sqs:eu-west-1:123456789012:id-minter-downstream'
  const policy = JSON.parse(raw.replaceAll('${input_queue_arn}', input).replaceAll('${downstream_queue_arn}', downstream))
  const grants = policy.Statement.map((s: Json) => ({ effect: s.Effect, actions: [...s.Action].sort(), resource: s.Resource }))
  t.same(grants, [
    { effect: 'Allow', actions: ['sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'], resource: input },
    { effect: 'Allow', actions: ['sqs:SendMessage'], resource: downstream },
  ])
  const sqsTf = readFileSync(join(root, 'infra', 'terraform', 'sqs.tf'), 'utf8')
  t.match(sqsTf, /templatefile\("\$\{path\.module\}\/\.\.\/iam\/id-minter-sqs-policy\.json", \{\s*input_queue_arn\s*=\s*aws_sqs_queue\.input\.arn\s*downstream_queue_arn\s*=\s*aws_sqs_queue\.downstream\.arn\s*\}\)/)
  const base = terraformBlock(sqsTf, /resource "aws_iam_role_policy_attachment" "id_minter_sqs_base" \{/)
  t.match(base, /policy_arn\s*=\s*aws_iam_policy\.id_minter_stepfunction\.arn/, "and the Step Functions Lambda's policy (database, Elasticsearch, logs)")
})

t.test('Terraform deploys the SQS Lambda: ReportBatchItemFailures, a dead-letter queue after 3 receives, tunable batching, the downstream queue', async (t) => {
  const sqsTf = readFileSync(join(root, 'infra', 'terraform', 'sqs.tf'), 'utf8')
  const mapping = terraformBlock(sqsTf, /resource "aws_lambda_event_source_mapping" "\w+" \{/)
  t.ok(mapping, 'an event source mapping')
  t.match(mapping, /function_response_types\s*=\s*\["ReportBatchItemFailures"\]/, 'ReportBatchItemFailures: without it Lambda ignores batchItemFailures and deletes or retries whole batches')
  t.match(mapping, /event_source_arn\s*=\s*aws_sqs_queue\.input\.arn/)
  t.match(mapping, /function_name\s*=\s*aws_lambda_function\.id_minter_sqs\.arn/)
  t.match(mapping, /batch_size\s*=\s*var\.sqs_batch_size/)
  t.match(mapping, /maximum_batching_window_in_seconds\s*=\s*var\.sqs_batching_window_seconds/)
  t.match(mapping, /scaling_config\s*\{\s*maximum_concurrency\s*=\s*var\.sqs_maximum_concurrency\s*\}/)
  for (const name of ['sqs_batch_size', 'sqs_batching_window_seconds', 'sqs_maximum_concurrency']) t.match(sqsTf, new RegExp(`variable "${name}" \\{`), `${name} is a variable`)

  const input = terraformBlock(sqsTf, /resource "aws_sqs_queue" "input" \{/)
  t.match(input, /deadLetterTargetArn\s*=\s*aws_sqs_queue\.input_dead_letter\.arn/, 'the input queue redrives to the dead-letter queue')
  t.match(input, /maxReceiveCount\s*=\s*var\.sqs_max_receive_count/)
  t.match(terraformBlock(sqsTf, /variable "sqs_max_receive_count" \{/), /default\s*=\s*3\b/, 'after 3 receives')
  t.match(input, /visibility_timeout_seconds\s*=\s*6 \* var\.sqs_timeout/, 'visibility timeout: six times the function timeout (AWS advice)')

  const fn = terraformBlock(sqsTf, /resource "aws_lambda_function" "id_minter_sqs" \{/)
  t.match(fn, /runtime\s*=\s*"nodejs24\.x"/)
  t.match(fn, /handler\s*=\s*"index\.handler"/, 'the same handler as the Step Functions Lambda')
  t.match(fn, /filename\s*=\s*var\.lambda_zip/, 'and the same zip')
  t.match(fn, /merge\(local\.lambda_environment, \{\s*use_downstream\s*=\s*"sqs"\s*downstream_queue_url\s*=\s*aws_sqs_queue\.downstream\.url\s*\}\)/, 'its configuration: the shared one, and the downstream queue')
  const schemaNames = Object.keys(ConfigSchema.properties)
  for (const name of ['use_downstream', 'downstream_queue_url']) t.ok(schemaNames.includes(name), `${name} is read by src/config.ts`)
})

t.test('terraform renders the SQS policy template to the JSON checked above', { skip: hasTerraform ? false : 'terraform is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'id-minter-tf-sqs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const expression = `base64encode(templatefile("${join(root, 'infra', 'iam', 'id-minter-sqs-policy.json')}", { input_queue_arn = "arn:aws:sqs:eu-west-1:123456789012:in", downstream_queue_arn = "arn:aws:sqs:eu-west-1:123456789012:down" }))\n`
  const result = spawnSync('terraform', ['console'], { cwd: dir, input: expression, encoding: 'utf8', timeout: 60_000, env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', CHECKPOINT_DISABLE: '1' } })
  t.equal(result.status, 0, result.stderr)
  const policy = JSON.parse(Buffer.from(JSON.parse(result.stdout.trim()), 'base64').toString('utf8'))
  t.same(policy.Statement.map((s: Json) => s.Resource), ['arn:aws:sqs:eu-west-1:123456789012:in', 'arn:aws:sqs:eu-west-1:123456789012:down'])
})
