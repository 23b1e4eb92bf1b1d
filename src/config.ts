import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

const NonEmpty = (description: string) => Type.String({ minLength: 1, description })
/**
 * One concrete index or alias, as Elasticsearch allows it to be named: lower case, none of
 * \ / * ? " < > | , # : or a space, not starting with - _ + or a dot. A wildcard or a list would
 * read from, or write to, several indices at once.
 */
const IndexName = (description: string) =>
  Type.String({
    pattern: '^[^-_+.\\\\/*?"<>|,#: A-Z][^\\\\/*?"<>|,#: A-Z]{0,254}$',
    description,
    errorMessage: 'must name one index or alias: lower case, no wildcard or list, none of \\ / * ? " < > | , # : or a space, not starting with - _ + or .',
  })
const Port = (fallback: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: 65535, default: fallback, description })
const Protocol = (description: string) =>
  Type.Union([Type.Literal('http'), Type.Literal('https')], { default: 'https', description })
const Secret = (description: string) => Type.Optional(Type.String({ minLength: 1, description, secret: true }))

/**
 * The whole configuration, read from the environment. Lower-case names are the ones
 * the existing pipeline's deployment already sets; upper-case names are this service's own.
 */
export const ConfigSchema = Type.Object({
  cluster_url: NonEmpty('MySQL primary host: every write and the migration run here.'),
  cluster_url_readonly: Type.Optional(NonEmpty('MySQL read replica host for look-ups; the primary when unset.')),
  db_port: Port(3306, 'MySQL port.'),
  db_username: NonEmpty('MySQL user.'),
  db_password: Type.String({ default: '', description: 'MySQL password.', secret: true }),
  max_connections: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'Connection pool size (per pool).' }),
  IDENTIFIERS_DATABASE: Type.String({
    pattern: '^[A-Za-z0-9_]{1,64}$',
    default: 'identifiers',
    description: 'Database (schema) that holds the identifier tables.',
  }),
  APPLY_MIGRATIONS: Type.Boolean({
    default: false,
    description: 'Create the database if missing and apply migrations at start-up.',
  }),

  es_upstream_host: NonEmpty('Elasticsearch host holding the source works.'),
  es_upstream_port: Port(9200, 'Port of the source Elasticsearch.'),
  es_upstream_protocol: Protocol('http or https for the source Elasticsearch.'),
  es_apikey: Secret('API key for the source Elasticsearch.'),
  es_source_index: IndexName('Index the source works are read from.'),

  es_downstream_host: NonEmpty('Elasticsearch host the identified works are written to.'),
  es_downstream_port: Port(9200, 'Port of the target Elasticsearch.'),
  es_downstream_protocol: Protocol('http or https for the target Elasticsearch.'),
  es_downstream_apikey: Secret('API key for the target Elasticsearch.'),
  es_downstream_username: Type.Optional(NonEmpty('User for the target Elasticsearch (with es_downstream_password).')),
  es_downstream_password: Secret('Password for the target Elasticsearch.'),
  es_identified_index: IndexName('Index the identified works are written to (not the source index).'),

  MINT_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 900_000,
    default: 25_000,
    description:
      'Budget of one mint over HTTP, in ms, shared by all its stages (reading works, the database, indexing); when it runs out the mint answers 503 and its database work is cancelled.',
  }),
  LOOKUP_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 900_000,
    default: 5_000,
    description:
      'Budget of one read-only look-up (GET /canonical-ids/…, GET /source-identifiers, POST /source-identifiers/lookup), in ms; past it the look-up answers 503. In Lambda the smaller of this and the remaining time less LAMBDA_TIMEOUT_MARGIN_MS.',
  }),
  REPROCESS_TIMEOUT_MS: Type.Integer({
    minimum: 1_000,
    maximum: 900_000,
    default: 25_000,
    description:
      'Budget of one POST /reprocess call over HTTP, in ms: it mints chunk after chunk and answers a cursor before the budget runs out (in Lambda the budget is the remaining time less LAMBDA_TIMEOUT_MARGIN_MS). Each chunk of 100 works gets at most MINT_TIMEOUT_MS of it.',
  }),
  LAMBDA_TIMEOUT_MARGIN_MS: Type.Integer({
    minimum: 0,
    maximum: 60_000,
    default: 3_000,
    description:
      "In Lambda a mint's budget is the invocation's remaining time (context.getRemainingTimeInMillis()) minus this margin, in ms, so that it answers DependencyUnavailableError before the platform stops it.",
  }),
  BULK_MAX_BYTES: Type.Integer({
    minimum: 1024,
    maximum: 100 * 1024 * 1024,
    default: 10 * 1024 * 1024,
    description:
      "Largest bulk request sent to the identified index, in bytes (10 MiB, small managed clusters' http.max_content_length); a 413 still splits a request in halves.",
  }),

  metrics_namespace: Type.String({ minLength: 1, default: 'id-minter', description: 'CloudWatch metrics namespace.' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'pino log level (case-insensitive).' },
  ),
  PORT: Port(8080, 'HTTP port of the server.'),
  API_KEYS: Type.Optional(
    Type.String({
      minLength: 1,
      secret: true,
      description: 'Comma-separated API keys accepted on POST /mint and the look-ups (x-api-key header or Bearer token). Unset with API_KEY_HASHES: no key needed.',
    }),
  ),
  API_KEY_HASHES: Type.Optional(
    Type.String({
      pattern: '^[0-9a-fA-F]{64}(,[0-9a-fA-F]{64})*$',
      description: 'Comma-separated SHA-256 hex digests of accepted API keys (`npm run api-key` makes a key and its hash).',
    }),
  ),
  EMF_METRICS: Type.Boolean({
    default: true,
    description: 'Write the custom metrics to stdout in CloudWatch Embedded Metric Format (under metrics_namespace).',
  }),
  SWAGGER_UI: Type.Boolean({ default: true, description: 'Serve the Swagger UI at /documentation; false in production if you prefer.' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address the server listens on.' }),

  use_downstream: Type.Union([Type.Literal('sqs'), Type.Literal('stdio'), Type.Literal('none')], {
    default: 'none',
    description:
      'Where the canonical ID of each work minted from an SQS message is sent once the work is indexed: sqs (downstream_queue_url), stdio (one line per ID on stdout, for local runs) or none.',
  }),
  downstream_queue_url: Type.Optional(
    Type.String({ pattern: '^https?://\\S+$', description: 'URL of the SQS queue the canonical IDs go to; required when use_downstream is sqs.' }),
  ),
  queue_url: Type.Optional(
    Type.String({
      pattern: '^https?://\\S+$',
      description: 'URL of an SQS queue of source identifiers for the server to consume by long polling (the container form of the SQS interface); unset, it consumes none.',
    }),
  ),
})

export type Config = Static<typeof ConfigSchema>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const properties = ConfigSchema.properties as Record<string, TSchema>

function isSecret(name: string): boolean {
  const schema = properties[name]
  return schema?.secret === true || schema?.anyOf?.some((s: TSchema) => s.secret === true) === true
}

/** The variable names whose values must never reach a log line. */
export const secretNames = Object.keys(properties).filter(isSecret)

/**
 * Reads and validates the configuration; the first problem is thrown as one line naming the variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config = validated(ConfigSchema, env)
  if (config.es_downstream_password !== undefined && config.es_downstream_username === undefined) {
    throw new ConfigError('Invalid configuration: es_downstream_username is required when es_downstream_password is set')
  }
  // A list of blanks would leave no key, and with no key every caller is let in: say so instead.
  if (config.API_KEYS !== undefined && config.API_KEYS.split(',').every((key) => key.trim() === '')) {
    throw new ConfigError('Invalid configuration: API_KEYS=(value hidden): holds no key, only commas and spaces (unset it to run without keys)')
  }
  if (config.es_identified_index === config.es_source_index) {
    throw new ConfigError(`Invalid configuration: es_identified_index=${JSON.stringify(config.es_identified_index)}: must not be the source index, which the identified works would overwrite`)
  }
  if (config.use_downstream === 'sqs' && config.downstream_queue_url === undefined) {
    throw new ConfigError('Invalid configuration: downstream_queue_url is required when use_downstream is sqs')
  }
  return config
}

/** The variables a database-only command (db:migrate, db:import) needs: the service's own names and rules. */
export const DatabaseConfigSchema = Type.Pick(ConfigSchema, [
  'cluster_url',
  'cluster_url_readonly',
  'db_port',
  'db_username',
  'db_password',
  'max_connections',
  'IDENTIFIERS_DATABASE',
  'APPLY_MIGRATIONS',
])
export type DatabaseConfig = Static<typeof DatabaseConfigSchema>

/** Reads and validates only the database variables, as loadConfig does the whole configuration. */
export function loadDatabaseConfig(env: NodeJS.ProcessEnv = process.env): DatabaseConfig {
  return validated(DatabaseConfigSchema, env)
}

function validated<T extends TObject>(schema: T, env: NodeJS.ProcessEnv): Static<T> {
  const raw: Record<string, unknown> = {}
  for (const name of Object.keys(schema.properties)) {
    const value = env[name]
    // An empty variable means "not set": deployment templates often render unset values as "".
    if (value !== undefined && value !== '') raw[name] = name === 'LOG_LEVEL' ? value.toLowerCase() : value
  }
  // A whole number is written as one: TypeBox's conversion would read 1e3 or 1.5 as 1.
  for (const [name, value] of Object.entries(raw)) {
    if ((schema.properties[name] as TSchema).type === 'integer' && !/^-?\d+$/.test(value as string)) {
      throw new ConfigError(`Invalid configuration: ${name}=${isSecret(name) ? '(value hidden)' : JSON.stringify(value)}: must be a whole number, written in digits`)
    }
  }
  // Converted on a copy, so that an error shows the value as it was set.
  const candidate = Value.Default(schema, Value.Convert(schema, { ...raw })) as Record<string, unknown>
  const error = Value.Errors(schema, candidate).First()
  if (error) {
    const name = error.path.replace(/^\//, '').split('/')[0] ?? error.path
    if (raw[name] === undefined) throw new ConfigError(`Invalid configuration: ${name} is required but not set`)
    const shown = isSecret(name) ? '(value hidden)' : JSON.stringify(raw[name])
    const property = schema.properties[name] as { errorMessage?: string; anyOf?: Array<{ const?: unknown }> } | undefined
    const choices = property?.anyOf?.every((option) => option.const !== undefined) ? property.anyOf.map((option) => String(option.const)) : undefined
    // TypeBox's message, its first letter lower-cased (the whole of it would change a pattern's \S into \s).
    const explained = property?.errorMessage ?? (choices ? `must be one of ${choices.join(', ')}` : error.message.charAt(0).toLowerCase() + error.message.slice(1))
    throw new ConfigError(`Invalid configuration: ${name}=${shown}: ${explained}`)
  }
  return candidate as Static<T>
}
