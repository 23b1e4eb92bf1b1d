// Shared by the operator commands (scripts/*.ts): strict argument parsing, so a mistyped flag stops
// the command with a one-line message and exit code 2 instead of being ignored.
import { parseArgs, type ParseArgsConfig } from 'node:util'

export function parseCommandLine<const T extends NonNullable<ParseArgsConfig['options']>>(
  options: T,
  usage: string,
  args: string[] = process.argv.slice(2),
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage}\n`)
    process.exit(2)
  }
}
