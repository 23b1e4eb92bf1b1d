/**
 * The state machines in infra/state-machines as Terraform deploys them, and a way to run one in an
 * ASL interpreter (aws-local-stepfunctions) with its Task states calling a real Lambda handler.
 * Not a test file itself: test/deploy/infra.test.ts and state-machines.test.ts share it.
 */
import { StateMachine } from 'aws-local-stepfunctions'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LambdaHost } from '../reliability/lambda-host.js'

export type Json = any

export const machinesDir = fileURLToPath(new URL('../../infra/state-machines/', import.meta.url))
export const LAMBDA_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:id-minter-stepfunction'
export const machineFiles = readdirSync(machinesDir).filter((f) => f.endsWith('.asl.json')).sort()
export const rawMachine = (file: string) => readFileSync(join(machinesDir, file), 'utf8')

/** The definition as Terraform's templatefile renders it: ${lambda_arn} is the only variable. */
export const machine = (file: string): Json => JSON.parse(rawMachine(file).replaceAll('${lambda_arn}', LAMBDA_ARN))

/** Every state, at any depth (Map item processors, Parallel branches). */
export function allStates(definition: Json): Array<[string, Json]> {
  const found: Array<[string, Json]> = []
  const walk = (node: Json) => {
    if (Array.isArray(node)) return node.forEach(walk)
    if (node === null || typeof node !== 'object') return
    if (node.States && typeof node.States === 'object') for (const [name, state] of Object.entries(node.States)) found.push([name, state])
    for (const value of Object.values(node)) walk(value)
  }
  walk(definition)
  return found
}

/** A Lambda invocation as a Task sees it: the handler's answer, or its error by name (what Retry and Catch match). */
export function viaLambda(host: LambdaHost, calls?: Array<{ input: Json; error?: string }>) {
  return async (input: Json): Promise<Json> => {
    const outcome = await host.invoke(input)
    calls?.push({ input, ...(outcome.ok ? {} : { error: outcome.error.name }) })
    if (outcome.ok) return outcome.result
    const error = new Error(outcome.error.message)
    error.name = outcome.error.name
    throw error
  }
}

/**
 * Runs a deployed definition to its end. Every Task state calls `task` (by state name), and its
 * Retry intervals are zero so that retries do not wait. Resolves with the execution's output;
 * rejects with the interpreter's ExecutionError (whose cause names the error) when it fails.
 */
export async function runMachine(
  file: string,
  input: Json,
  task: (stateName: string) => (input: Json) => Promise<Json>,
  executionName = `exec-${file.replace('.asl.json', '')}`,
): Promise<Json> {
  const definition = machine(file)
  const tasks = allStates(definition).filter(([, state]) => state.Type === 'Task').map(([name]) => name)
  const execution = new StateMachine(definition).run(input, {
    context: { Execution: { Name: executionName } },
    overrides: {
      taskResourceLocalHandlers: Object.fromEntries(tasks.map((name) => [name, task(name)])),
      retryIntervalOverrides: Object.fromEntries(tasks.map((name) => [name, 0])),
    },
  })
  return execution.result
}
