import { build } from 'esbuild'
import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Child } from './protocol.js'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/** Where the children are bundled: inside bench/results/, which git ignores. */
export const buildDir = here('./results/.build/')

/**
 * The service and the floor run as plain Node on esbuild bundles of their TypeScript (dependencies
 * left in node_modules), as production runs compiled JavaScript: under tsx the loader alone would
 * add some 50 MB to the RSS being measured.
 */
export async function buildChildren(entryPoints: Record<string, string> = { service: './service-child.ts', floor: './floor.ts' }): Promise<void> {
  mkdirSync(buildDir, { recursive: true })
  await build({
    entryPoints: Object.fromEntries(Object.entries(entryPoints).map(([name, path]) => [name, here(path)])),
    outdir: buildDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    packages: 'external',
    keepNames: true,
    logLevel: 'warning',
  })
}

export interface ChildOptions {
  env: Record<string, string>
  verbose?: boolean
}

/**
 * The node flags production starts the server with: those of package.json's `start` script
 * (the Dockerfile's server CMD is checked against it by test/deploy/docker.test.ts).
 */
export function productionNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(here('../package.json'), 'utf8')) as { scripts: Record<string, string> }
  const [node, ...rest] = (pkg.scripts.start ?? '').trim().split(/\s+/)
  if (node !== 'node') throw new Error(`package.json's start script does not run node: ${pkg.scripts.start}`)
  return rest.filter((arg) => arg.startsWith('--'))
}

export function startService(options: ChildOptions & { nodeFlags: string[] }) {
  return new Child<{ url: string; startupMs: number; rssBytes: number }>('service', `${buildDir}service.mjs`, {
    env: { ...process.env, ...options.env },
    execArgv: options.nodeFlags,
    forwardOutput: options.verbose,
  })
}

export function startFloor(options: ChildOptions) {
  return new Child<{ rssBytes: number }>('floor', `${buildDir}floor.mjs`, {
    env: { ...process.env, ...options.env },
    execArgv: [],
    forwardOutput: options.verbose,
  })
}

/** src/lambda.ts imported in-process by a child under tsx (it builds its app from the environment at import). */
export function startLambda(options: ChildOptions) {
  return new Child<{ importMs: number }>('lambda', here('./lambda-child.ts'), {
    env: { ...process.env, ...options.env },
    execArgv: ['--import', 'tsx'],
    forwardOutput: options.verbose,
  })
}
