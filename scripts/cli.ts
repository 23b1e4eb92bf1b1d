// Shared by the operator commands (scripts/*.ts): strict argument parsing, so a mistyped flag stops
// the command with a one-line message and exit code 2 instead of being ignored.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ConfigError, loadConfig, loadDatabaseConfig, type Config, type DatabaseConfig } from '../src/config.js'
import { localEnvironment } from '../fixtures/local-env.js'

/**
 * The command's flags, parsed strictly. `--help` (when the command has it) prints the usage and
 * exits 0; an unknown or malformed flag stops the command through usageError.
 */
export function parseCommandLine<const T extends NonNullable<ParseArgsConfig['options']>>(
  options: T,
  usage: string,
  args: string[] = process.argv.slice(2),
) {
  const parse = () => {
    try {
      return parseArgs({ args, options, strict: true, allowPositionals: false }).values
    } catch (error) {
      return usageError(error instanceof Error ? error.message : String(error), usage)
    }
  }
  const values = parse()
  if ((values as Record<string, unknown>).help === true) {
    process.stdout.write(`${usage}\n`)
    process.exit(0)
  }
  return values
}

/** Stops the command with exit code 2 (bad input): the message, then the usage, on stderr. */
export function usageError(message: string, usage: string): never {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

/**
 * The configuration `load` reads from the environment, validated as the service validates it, so
 * that a missing variable stops the command with one line naming it (and exit code `exitCode`).
 * `--local` fills unset variables with the defaults of `npm run services` (dev and test only): a
 * forgotten variable must never quietly point a command at localhost's root.
 */
function operatorSettings<T>(load: (env: NodeJS.ProcessEnv) => T, local: boolean, exitCode: number): T {
  try {
    return load(local ? localEnvironment() : process.env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`${error.message} (for the local services of npm run services, add --local)\n`)
    process.exit(exitCode)
  }
}

/** The database configuration of an operator command (db:migrate, db:import); exit code 1 when it is wrong. */
export function operatorDatabaseConfig(local: boolean): DatabaseConfig {
  return operatorSettings(loadDatabaseConfig, local, 1)
}

/**
 * The whole configuration, for a command that reads and writes as the service does (npm run
 * reprocess). A configuration error stops the command with exit code 2, the code for bad input.
 */
export function operatorConfig(local: boolean): Config {
  return operatorSettings(loadConfig, local, 2)
}
