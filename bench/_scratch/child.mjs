// src/app.ts
import Fastify from "fastify";
import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";

// src/plugins/database.ts
import fp from "fastify-plugin";

// src/services/identifier-store/database.ts
import { drizzle } from "drizzle-orm/mysql2";
import { migrate } from "drizzle-orm/mysql2/migrator";
import mysql from "mysql2/promise";
import { fileURLToPath } from "node:url";
var defaultMigrationsFolder = process.env.MIGRATIONS_FOLDER ?? fileURLToPath(new URL("../../../migrations", import.meta.url));
function openDatabase(options) {
  const base = {
    port: options.port,
    user: options.user,
    password: options.password,
    charset: "utf8mb4",
    connectTimeout: 5e3,
    enableKeepAlive: true,
    // Without FOUND_ROWS, a duplicate key left unchanged by ON DUPLICATE KEY UPDATE counts 0 rows,
    // which is how a mint learns that a concurrent request got there first.
    flags: ["-FOUND_ROWS"]
  };
  const createPool = (host) => {
    const pool = mysql.createPool({
      ...base,
      host,
      database: options.database,
      connectionLimit: options.connectionLimit,
      maxIdle: options.connectionLimit,
      idleTimeout: 6e4
    });
    pool.on("connection", (connection) => {
      ;
      connection.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", () => {
      });
    });
    return pool;
  };
  const primaryPool = createPool(options.host);
  const replicaPool = options.replicaHost ? createPool(options.replicaHost) : void 0;
  const primary = drizzle({ client: primaryPool });
  const replica = replicaPool ? drizzle({ client: replicaPool }) : void 0;
  async function applyMigrations() {
    const admin = await mysql.createConnection({ ...base, host: options.host });
    try {
      await admin.query(`CREATE DATABASE IF NOT EXISTS \`${options.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      await admin.query("SELECT GET_LOCK(?, 60)", [`id-minter-migrations:${options.database}`]);
      await migrate(primary, { migrationsFolder: options.migrationsFolder ?? defaultMigrationsFolder });
    } finally {
      await admin.end().catch(() => {
      });
    }
  }
  let migrated;
  const ready = options.applyMigrations ? () => migrated ??= applyMigrations().catch((error) => {
    migrated = void 0;
    throw error;
  }) : void 0;
  async function ping() {
    if (ready) await ready();
    await primaryPool.query("SELECT 1");
    if (replicaPool) await replicaPool.query("SELECT 1");
  }
  async function close() {
    await Promise.all([primaryPool.end(), replicaPool?.end()]);
  }
  return { primary, replica, primaryPool, replicaPool, ready, applyMigrations, ping, close };
}

// src/plugins/database.ts
var database_default = fp(
  async (app2, config) => {
    const database = openDatabase({
      host: config.cluster_url,
      replicaHost: config.cluster_url_readonly,
      port: config.db_port,
      user: config.db_username,
      password: config.db_password,
      database: config.IDENTIFIERS_DATABASE,
      connectionLimit: config.max_connections,
      applyMigrations: config.APPLY_MIGRATIONS
    });
    app2.decorate("database", database);
    if (database.ready) {
      database.ready().catch((error) => app2.log.error({ err: error }, "migrations not applied yet"));
    }
    app2.addHook("onClose", async () => {
      await database.close();
    });
  },
  { name: "database" }
);

// src/plugins/elasticsearch.ts
import { Client } from "@elastic/elasticsearch";
import fp2 from "fastify-plugin";
var common = { requestTimeout: 2e4, maxRetries: 2, compression: false };
var elasticsearch_default = fp2(
  async (app2, config) => {
    const source = new Client({
      ...common,
      node: `${config.es_upstream_protocol}://${config.es_upstream_host}:${config.es_upstream_port}`,
      ...config.es_apikey ? { auth: { apiKey: config.es_apikey } } : {}
    });
    const targetAuth = config.es_downstream_apikey ? { apiKey: config.es_downstream_apikey } : config.es_downstream_username ? { username: config.es_downstream_username, password: config.es_downstream_password ?? "" } : void 0;
    const target = new Client({
      ...common,
      node: `${config.es_downstream_protocol}://${config.es_downstream_host}:${config.es_downstream_port}`,
      ...targetAuth ? { auth: targetAuth } : {}
    });
    app2.decorate("elasticsearch", { source, target });
    app2.addHook("onClose", async () => {
      await Promise.all([source.close(), target.close()]);
    });
  },
  { name: "elasticsearch" }
);

// src/plugins/swagger.ts
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import fp3 from "fastify-plugin";
var API_VERSION = "1.0.0";
var DESCRIPTION = "Gives every source identifier (ontology type, identifier type, value) one short, stable canonical ID, and writes each work to the identified index with canonical IDs embedded at every depth.";
var swagger_default = fp3(
  async (app2) => {
    await app2.register(swagger, {
      // Shared schemas appear under their own names ("ErrorResponse"), not def-0.
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
      openapi: {
        openapi: "3.0.3",
        info: { title: "id-minter", version: API_VERSION, description: DESCRIPTION },
        tags: [
          { name: "minting", description: "Give source identifiers canonical IDs and write identified works" },
          { name: "operations", description: "Health of the service and its dependencies" }
        ]
      }
    });
    await app2.register(swaggerUi, { routePrefix: "/documentation" });
  },
  { name: "swagger" }
);

// src/routes/health.ts
import { Type } from "@fastify/type-provider-typebox";

// src/services/errors.ts
var DependencyUnavailableError = class extends Error {
  name = "DependencyUnavailableError";
  dependency;
  constructor(dependency, message, options) {
    super(message, options);
    this.dependency = dependency;
  }
};
function describeError(error) {
  if (error instanceof Error) {
    const code = error.code;
    return typeof code === "string" && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

// src/services/health.ts
async function timed(check, timeoutMs) {
  const started = performance.now();
  let timer;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      })
    ]);
    return { status: "ok", latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: "error", latencyMs: Math.round(performance.now() - started), error: describeError(error) };
  } finally {
    clearTimeout(timer);
  }
}
async function checkHealth({ database, works, timeoutMs = 3e3 }) {
  const [db, source, target] = await Promise.all([
    timed(() => database.ping(), timeoutMs),
    timed(() => works.ping("source", timeoutMs), timeoutMs),
    timed(() => works.ping("target", timeoutMs), timeoutMs)
  ]);
  const checks = { database: db, sourceIndex: source, identifiedIndex: target };
  const status = Object.values(checks).every((c) => c.status === "ok") ? "ok" : "error";
  return { status, checks };
}

// src/routes/health.ts
var Check = (description) => Type.Object(
  {
    status: Type.Union([Type.Literal("ok"), Type.Literal("error")], { description: "Whether this dependency answered." }),
    latencyMs: Type.Number({ description: "How long the check took, in milliseconds.", examples: [3] }),
    error: Type.Optional(Type.String({ description: "Why the check failed.", examples: ["connect ECONNREFUSED 127.0.0.1:3306"] }))
  },
  { description }
);
var HealthResponse = (description, example) => Type.Object(
  {
    status: Type.Union([Type.Literal("ok"), Type.Literal("error")], {
      description: '"ok" when every dependency answered, "error" otherwise.'
    }),
    checks: Type.Object({
      database: Check("The MySQL primary (and replica, when configured): SELECT 1, after migrations when they are applied at start-up."),
      sourceIndex: Check("The source index (es_source_index) exists and answers."),
      identifiedIndex: Check("The identified index (es_identified_index) exists and answers.")
    })
  },
  { description, examples: [example] }
);
var ok = { status: "ok", latencyMs: 2 };
var routes = async (app2, { dependencies }) => {
  app2.get(
    "/health",
    {
      schema: {
        tags: ["operations"],
        summary: "Can the service mint right now?",
        description: "Checks the database and both Elasticsearch indices on every call, so a dependency that comes back is seen at once.",
        response: {
          200: HealthResponse("Every dependency answered.", {
            status: "ok",
            checks: { database: ok, sourceIndex: ok, identifiedIndex: ok }
          }),
          503: HealthResponse("At least one dependency did not answer; its check says why.", {
            status: "error",
            checks: {
              database: { status: "error", latencyMs: 1, error: "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:3306" },
              sourceIndex: ok,
              identifiedIndex: ok
            }
          })
        }
      }
    },
    async (_request, reply) => {
      const health = await checkHealth(dependencies);
      return reply.code(health.status === "ok" ? 200 : 503).send(health);
    }
  );
};
var health_default = routes;

// src/routes/mint.ts
import { Type as Type3 } from "@fastify/type-provider-typebox";

// src/routes/schemas.ts
import { Type as Type2 } from "@sinclair/typebox";
var ErrorResponse = Type2.Object(
  {
    statusCode: Type2.Integer({ description: "The HTTP status code.", examples: [400] }),
    error: Type2.String({ description: "The HTTP status text.", examples: ["Bad Request"] }),
    message: Type2.String({
      description: "What went wrong, in a sentence.",
      examples: ["body/sourceIdentifiers must NOT have fewer than 1 items"]
    })
  },
  { $id: "ErrorResponse", title: "ErrorResponse", description: "A request that could not be served." }
);
var errorResponse = Type2.Ref(ErrorResponse);

// src/routes/mint.ts
var MAX_SOURCE_IDENTIFIERS = 100;
var MintRequestBody = Type3.Object(
  {
    sourceIdentifiers: Type3.Array(
      Type3.String({
        minLength: 1,
        // At least one character that is not whitespace; surrounding whitespace is trimmed.
        pattern: "\\S",
        description: "The id of a work in the source index; surrounding whitespace is trimmed.",
        examples: ["sierra-123456"]
      }),
      {
        minItems: 1,
        maxItems: MAX_SOURCE_IDENTIFIERS,
        description: `The works to identify: 1 to ${MAX_SOURCE_IDENTIFIERS} source index ids. Repeats are minted once.`,
        examples: [["sierra-123456", "miro-789012", "calm-uuid-here"]]
      }
    ),
    jobId: Type3.Optional(
      Type3.String({
        minLength: 1,
        description: "Your identifier for this batch, echoed in the response and the logs.",
        examples: ["optional-job-identifier"]
      })
    )
  },
  {
    description: "The works to mint canonical IDs for. Unknown fields are ignored.",
    examples: [{ sourceIdentifiers: ["sierra-123456", "miro-789012", "calm-uuid-here"], jobId: "optional-job-identifier" }]
  }
);
var MintResponseBody = Type3.Object(
  {
    successes: Type3.Array(Type3.String(), {
      description: "The identifiers whose works were identified and indexed, in request order.",
      examples: [["sierra-123456", "miro-789012"]]
    }),
    failures: Type3.Array(
      Type3.Object({
        sourceIdentifier: Type3.String({ description: "The identifier that failed.", examples: ["calm-uuid-here"] }),
        error: Type3.String({
          description: 'Starts "Failed to mint ID for <id>", then says why.',
          examples: ["Failed to mint ID for calm-uuid-here: not found in works-source"]
        })
      }),
      { description: "The identifiers that could not be minted, in request order: retrying them alone gives the same answer." }
    ),
    jobId: Type3.Optional(Type3.String({ description: "The request jobId, when one was given.", examples: ["optional-job-identifier"] }))
  },
  {
    description: "Every distinct requested identifier appears once, in successes or in failures.",
    examples: [
      {
        successes: ["sierra-123456", "miro-789012"],
        failures: [{ sourceIdentifier: "calm-uuid-here", error: "Failed to mint ID for calm-uuid-here: not found in works-source" }],
        jobId: "optional-job-identifier"
      }
    ]
  }
);
var routes2 = async (app2, { minter }) => {
  app2.post(
    "/mint",
    {
      schema: {
        tags: ["minting"],
        summary: "Mint canonical IDs for works and index them",
        description: "Reads each work from the source index, gives every source identifier in it a canonical ID (minting new ones as needed), embeds them and indexes the work into the identified index. A problem with one work fails only that work; an unreachable database or Elasticsearch answers 503 so the caller retries the whole request.",
        body: MintRequestBody,
        response: {
          200: { ...MintResponseBody, description: "Each identifier succeeded or failed on its own." },
          400: { ...errorResponse, description: "The body is not a valid mint request." },
          503: { ...errorResponse, description: "The database or Elasticsearch is unavailable: retry later." }
        }
      }
    },
    async (request) => {
      return minter.mint(request.body);
    }
  );
};
var mint_default = routes2;

// src/services/identifier-store/store.ts
import { and, eq, inArray, or, sql as sql2 } from "drizzle-orm";

// src/services/canonical-id.ts
import { randomBytes } from "node:crypto";
var LETTERS = "abcdefghjkmnpqrstuvwxyz";
var ALPHABET = `${LETTERS}23456789`;
var CANONICAL_ID_LENGTH = 8;
var CANONICAL_ID_PATTERN = `^[${LETTERS}][${ALPHABET}]{${CANONICAL_ID_LENGTH - 1}}$`;
function generateCanonicalIds(count) {
  const ids = [];
  let bytes = randomBytes(count * CANONICAL_ID_LENGTH * 2);
  let at = 0;
  const next = (alphabet) => {
    const limit = 256 - 256 % alphabet.length;
    for (; ; ) {
      if (at === bytes.length) {
        bytes = randomBytes(64);
        at = 0;
      }
      const byte = bytes[at++];
      if (byte < limit) return alphabet[byte % alphabet.length];
    }
  };
  for (let i = 0; i < count; i++) {
    let id = next(LETTERS);
    for (let j = 1; j < CANONICAL_ID_LENGTH; j++) id += next(ALPHABET);
    ids.push(id);
  }
  return ids;
}

// src/services/identifier-store/keys.ts
function keyOf(key) {
  return `${key.ontologyType.length}:${key.ontologyType}${key.sourceSystem.length}:${key.sourceSystem}${key.sourceId}`;
}
function compareKeys(a, b) {
  return compareStrings(a.ontologyType, b.ontologyType) || compareStrings(a.sourceSystem, b.sourceSystem) || compareStrings(a.sourceId, b.sourceId);
}
function compareStrings(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}
function describeKey(key) {
  return `${key.ontologyType}[${key.sourceSystem}/${key.sourceId}]`;
}

// src/services/identifier-store/schema.ts
import { sql } from "drizzle-orm";
import { customType, index, mysqlEnum, mysqlTable, primaryKey, timestamp } from "drizzle-orm/mysql-core";
var utf8Bytes = (maxBytes) => customType({
  dataType: () => `varbinary(${maxBytes})`,
  fromDriver: (value) => typeof value === "string" ? value : value.toString("utf8")
});
var canonicalIdColumn = customType({
  dataType: () => "char(8) CHARACTER SET ascii COLLATE ascii_bin"
});
var limits = { ontologyType: 64, sourceSystem: 255, sourceId: 1020 };
var canonicalIds = mysqlTable("canonical_ids", {
  canonicalId: canonicalIdColumn("CanonicalId").primaryKey(),
  status: mysqlEnum("Status", ["free", "assigned"]).notNull().default("free"),
  createdAt: timestamp("CreatedAt", { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`)
});
var identifiers = mysqlTable(
  "identifiers",
  {
    ontologyType: utf8Bytes(limits.ontologyType)("OntologyType").notNull(),
    sourceSystem: utf8Bytes(limits.sourceSystem)("SourceSystem").notNull(),
    sourceId: utf8Bytes(limits.sourceId)("SourceId").notNull(),
    canonicalId: canonicalIdColumn("CanonicalId").notNull().references(() => canonicalIds.canonicalId),
    createdAt: timestamp("CreatedAt", { fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`)
  },
  (table) => [
    primaryKey({ name: "identifiers_pk", columns: [table.ontologyType, table.sourceSystem, table.sourceId] }),
    index("identifiers_canonical_id").on(table.canonicalId)
  ]
);

// src/services/identifier-store/store.ts
var CHUNK_SIZE = 1e3;
var MAX_ATTEMPTS = 8;
var RETRYABLE = /* @__PURE__ */ new Set([
  "ER_LOCK_DEADLOCK",
  // two requests inserting overlapping identifiers
  "ER_LOCK_WAIT_TIMEOUT"
]);
function createIdentifierStore({ primary, replica = primary, ready }) {
  async function run(operation) {
    try {
      if (ready) await ready();
      return await operation();
    } catch (error) {
      if (error instanceof DependencyUnavailableError) throw error;
      throw new DependencyUnavailableError("database", `Database unavailable: ${describeError(error)}`, { cause: error });
    }
  }
  async function lookup(keys, from = "replica") {
    const found = /* @__PURE__ */ new Map();
    if (keys.length === 0) return found;
    const db = from === "replica" ? replica : primary;
    return run(async () => {
      for (const condition of lookupConditions(keys)) {
        const rows = await db.select({
          ontologyType: identifiers.ontologyType,
          sourceSystem: identifiers.sourceSystem,
          sourceId: identifiers.sourceId,
          canonicalId: identifiers.canonicalId
        }).from(identifiers).where(condition);
        for (const row of rows) found.set(keyOf(row), row.canonicalId);
      }
      return found;
    });
  }
  async function assign(assignments) {
    if (assignments.length === 0) return /* @__PURE__ */ new Map();
    const sorted = [...assignments].sort((a, b) => compareKeys(a.key, b.key));
    return run(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await assignOnce(sorted);
        } catch (error) {
          const code = error.code;
          const duplicateCandidate = code === "ER_DUP_ENTRY" && /canonical_ids/i.test(String(error.message));
          if (attempt < MAX_ATTEMPTS && (RETRYABLE.has(code ?? "") || duplicateCandidate)) {
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
            continue;
          }
          throw error;
        }
      }
    });
  }
  async function assignOnce(sorted) {
    const candidates = generateCanonicalIds(sorted.filter((a) => a.canonicalId === void 0).length);
    let next = 0;
    const rows = sorted.map((a) => ({ ...a.key, canonicalId: a.canonicalId ?? candidates[next++] }));
    return primary.transaction(async (tx) => {
      for (const chunk of chunks(candidates)) {
        await tx.insert(canonicalIds).values(chunk.map((canonicalId) => ({ canonicalId, status: "assigned" })));
      }
      let inserted = 0;
      for (const chunk of chunks(rows)) {
        const [result] = await tx.insert(identifiers).values(chunk).onDuplicateKeyUpdate({ set: { canonicalId: sql2`${identifiers.canonicalId}` } });
        inserted += result.affectedRows;
      }
      const assigned = new Map(rows.map((row) => [keyOf(row), row.canonicalId]));
      if (inserted === rows.length) return assigned;
      for (const condition of lookupConditions(rows)) {
        const existing = await tx.select({
          ontologyType: identifiers.ontologyType,
          sourceSystem: identifiers.sourceSystem,
          sourceId: identifiers.sourceId,
          canonicalId: identifiers.canonicalId
        }).from(identifiers).where(condition).for("update");
        for (const row of existing) assigned.set(keyOf(row), row.canonicalId);
      }
      const used = new Set(assigned.values());
      const unused = candidates.filter((id) => !used.has(id));
      for (const chunk of chunks(unused)) await tx.delete(canonicalIds).where(inArray(canonicalIds.canonicalId, chunk));
      return assigned;
    });
  }
  return { lookup, assign };
}
function lookupConditions(keys) {
  const groups = /* @__PURE__ */ new Map();
  for (const key of keys) {
    const groupKey = keyOf({ ontologyType: key.ontologyType, sourceSystem: key.sourceSystem, sourceId: "" });
    let group = groups.get(groupKey);
    if (!group) groups.set(groupKey, group = { ontologyType: key.ontologyType, sourceSystem: key.sourceSystem, sourceIds: [] });
    group.sourceIds.push(key.sourceId);
  }
  const statements = [[]];
  let values = 0;
  for (const group of groups.values()) {
    for (const sourceIds of chunks(group.sourceIds)) {
      if (values + sourceIds.length > CHUNK_SIZE) {
        statements.push([]);
        values = 0;
      }
      values += sourceIds.length;
      statements[statements.length - 1]?.push(
        and(
          eq(identifiers.ontologyType, group.ontologyType),
          eq(identifiers.sourceSystem, group.sourceSystem),
          inArray(identifiers.sourceId, sourceIds)
        )
      );
    }
  }
  return statements.map((conditions) => or(...conditions));
}
function chunks(items) {
  const result = [];
  for (let i = 0; i < items.length; i += CHUNK_SIZE) result.push(items.slice(i, i + CHUNK_SIZE));
  return result;
}

// src/services/work-identifiers.ts
var CONCEPT_TYPES = /* @__PURE__ */ new Set(["Person", "Organisation", "Place", "Agent", "Meeting", "Genre", "Period"]);
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function pathOf(frame) {
  const steps = [];
  for (let f = frame; f?.parent; f = f.parent) {
    steps.push(
      typeof f.step === "number" ? `[${f.step}]` : /^[A-Za-z_$][\w$]*$/.test(f.step) ? `.${f.step}` : `[${JSON.stringify(f.step)}]`
    );
  }
  return `$${steps.reverse().join("")}`;
}
var MalformedIdentifier = class extends Error {
};
function byteLength(text) {
  return Buffer.byteLength(text, "utf8");
}
function requireText(value, field, maxBytes) {
  if (typeof value !== "string" || value.length === 0) throw new MalformedIdentifier(`${field} must be a non-empty string`);
  if (!value.isWellFormed()) throw new MalformedIdentifier(`${field} is not well-formed Unicode`);
  if (byteLength(value) > maxBytes) throw new MalformedIdentifier(`${field} is longer than ${maxBytes} bytes`);
  return value;
}
function identifierKey(value) {
  if (!isObject(value)) throw new MalformedIdentifier("must be an object");
  const identifierType = value.identifierType;
  if (!isObject(identifierType)) throw new MalformedIdentifier("identifierType must be an object");
  const ontologyType = requireText(value.ontologyType, "ontologyType", limits.ontologyType);
  return {
    ontologyType: CONCEPT_TYPES.has(ontologyType) ? "Concept" : ontologyType,
    sourceSystem: requireText(identifierType.id, "identifierType.id", limits.sourceSystem),
    sourceId: requireText(value.value, "value", limits.sourceId)
  };
}
function findIdentifiableNodes(work) {
  if (!isObject(work)) return { ok: false, reason: "the source document is not a JSON object" };
  const nodes = [];
  const stack = [{ value: work, parent: void 0, step: "" }];
  while (stack.length > 0) {
    const frame = stack.pop();
    const value = frame.value;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        if (typeof value[i] === "object" && value[i] !== null) stack.push({ value: value[i], parent: frame, step: i });
      }
      continue;
    }
    const object = value;
    const hasIdentifier = Object.hasOwn(object, "sourceIdentifier");
    if (hasIdentifier) {
      const node = parseNode(object, frame);
      if ("reason" in node) return { ok: false, reason: node.reason };
      nodes.push(node);
    }
    const keys = Object.keys(object);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      if (hasIdentifier && (key === "sourceIdentifier" || key === "predecessorIdentifier")) continue;
      const child = object[key];
      if (typeof child === "object" && child !== null) stack.push({ value: child, parent: frame, step: key });
    }
  }
  const rootObject = Object.hasOwn(work, "state") ? work.state : work;
  const root = nodes.find((n) => n.node === rootObject);
  if (!root) {
    const where = Object.hasOwn(work, "state") ? "state.sourceIdentifier" : "sourceIdentifier";
    return { ok: false, reason: `the work has no root identifier (${where})` };
  }
  return { ok: true, nodes, root };
}
function parseNode(object, frame) {
  const path = pathOf(frame);
  let field = "sourceIdentifier";
  try {
    const key = identifierKey(object.sourceIdentifier);
    const predecessorValue = object.predecessorIdentifier;
    field = "predecessorIdentifier";
    const predecessor = predecessorValue === void 0 || predecessorValue === null ? void 0 : identifierKey(predecessorValue);
    return predecessor ? { node: object, key, predecessor, path } : { node: object, key, path };
  } catch (error) {
    if (!(error instanceof MalformedIdentifier)) throw error;
    return { reason: `malformed ${field} at ${path}.${field}: ${error.message}` };
  }
}
function embedCanonicalIds(nodes, canonicalIdOf) {
  for (const entry of nodes) {
    const node = entry.node;
    node.canonicalId = canonicalIdOf(entry);
    if (typeof node.identifiedType === "string") {
      node.type = node.identifiedType;
      delete node.identifiedType;
    } else if (node.type === "Identifiable") {
      node.type = "Identified";
    }
  }
}

// src/services/minter.ts
function failureMessage(sourceIdentifier, reason) {
  return `Failed to mint ID for ${sourceIdentifier}: ${reason}`;
}
function distinctIdentifiers(sourceIdentifiers) {
  return [...new Set(sourceIdentifiers.map((id) => id.trim()))];
}
function createMinter({ identifiers: identifiers2, works }) {
  async function mint(request) {
    const requested = distinctIdentifiers(request.sourceIdentifiers);
    const failed = /* @__PURE__ */ new Map();
    const fail = (id, reason) => failed.set(id, failureMessage(id, reason));
    const fetched = await works.fetch(requested);
    const pending = [];
    for (const id of requested) {
      const result2 = fetched.get(id) ?? { found: false, reason: `not found in ${works.sourceIndex}` };
      if (!result2.found) {
        fail(id, result2.reason);
        continue;
      }
      const analysis = findIdentifiableNodes(result2.work);
      if (analysis.ok) pending.push({ id, work: result2.work, nodes: analysis.nodes, root: analysis.root });
      else fail(id, analysis.reason);
    }
    const keys = /* @__PURE__ */ new Map();
    for (const { nodes } of pending) {
      for (const node of nodes) {
        keys.set(keyOf(node.key), node.key);
        if (node.predecessor) keys.set(keyOf(node.predecessor), node.predecessor);
      }
    }
    const known = await identifiers2.lookup([...keys.values()]);
    const assignments = /* @__PURE__ */ new Map();
    const ready = [];
    for (const work of pending) {
      const workAssignments = [];
      let missingPredecessor;
      for (const node of work.nodes) {
        const key = keyOf(node.key);
        if (known.has(key)) continue;
        if (node.predecessor) {
          const inherited = known.get(keyOf(node.predecessor));
          if (inherited === void 0) {
            missingPredecessor = node;
            break;
          }
          workAssignments.push([key, { key: node.key, canonicalId: inherited }]);
        } else {
          workAssignments.push([key, { key: node.key }]);
        }
      }
      if (missingPredecessor?.predecessor) {
        fail(
          work.id,
          `predecessor ${describeKey(missingPredecessor.predecessor)} of ${describeKey(missingPredecessor.key)} at ${missingPredecessor.path} has no canonical ID`
        );
        continue;
      }
      for (const [key, assignment] of workAssignments) {
        const existing = assignments.get(key);
        if (!existing || existing.canonicalId === void 0 && assignment.canonicalId !== void 0) {
          assignments.set(key, assignment);
        }
      }
      ready.push(work);
    }
    const assigned = await identifiers2.assign([...assignments.values()]);
    const canonicalIdOf = (node) => {
      const key = keyOf(node.key);
      return known.get(key) ?? assigned.get(key);
    };
    const documents = ready.map((work) => {
      embedCanonicalIds(work.nodes, canonicalIdOf);
      return { id: canonicalIdOf(work.root), document: work.work, sourceIdentifier: work.id };
    });
    const rejected = await works.index(documents);
    for (const document of documents) {
      const reason = rejected.get(document.id);
      if (reason !== void 0) fail(document.sourceIdentifier, `rejected by ${works.targetIndex}: ${reason}`);
    }
    const result = { successes: [], failures: [] };
    for (const id of requested) {
      const error = failed.get(id);
      if (error === void 0) result.successes.push(id);
      else result.failures.push({ sourceIdentifier: id, error });
    }
    if (request.jobId !== void 0) result.jobId = request.jobId;
    return result;
  }
  return { mint };
}

// src/services/work-store.ts
import { errors } from "@elastic/elasticsearch";
function createWorkStore({ source, target, sourceIndex, targetIndex }) {
  async function fetch(ids) {
    const response = await unavailableOnFailure(
      `reading ${sourceIndex}`,
      () => source.mget({ index: sourceIndex, ids })
    );
    const works = /* @__PURE__ */ new Map();
    for (const doc of response.docs) {
      if ("error" in doc) {
        if (doc.error.type === "index_not_found_exception") {
          throw new DependencyUnavailableError("elasticsearch", `Source index ${sourceIndex} does not exist`);
        }
        works.set(doc._id, { found: false, reason: `${sourceIndex} could not return it: ${doc.error.reason ?? doc.error.type}` });
      } else if (doc.found) {
        works.set(doc._id, { found: true, work: doc._source });
      } else {
        works.set(doc._id, { found: false, reason: `not found in ${sourceIndex}` });
      }
    }
    return works;
  }
  async function index2(documents) {
    const rejected = /* @__PURE__ */ new Map();
    if (documents.length === 0) return rejected;
    const operations = [];
    for (const { id, document } of documents) operations.push({ index: { _index: targetIndex, _id: id } }, document);
    const response = await unavailableOnFailure(
      `writing ${targetIndex}`,
      () => target.bulk({ operations, filter_path: "errors,items.*._id,items.*.error" })
    );
    if (!response.errors) return rejected;
    for (const item of response.items) {
      const result = item.index;
      if (result?.error && result._id) {
        if (result.error.type === "index_not_found_exception" || result.error.type === "es_rejected_execution_exception") {
          throw new DependencyUnavailableError("elasticsearch", `Elasticsearch could not write to ${targetIndex}: ${result.error.reason}`);
        }
        rejected.set(result._id, `${result.error.type}: ${result.error.reason ?? "no reason given"}`);
      }
    }
    return rejected;
  }
  async function ping(which, timeoutMs) {
    const [client, name] = which === "source" ? [source, sourceIndex] : [target, targetIndex];
    const exists = await client.indices.exists({ index: name }, { requestTimeout: timeoutMs, maxRetries: 0 });
    if (!exists) throw new Error(`index ${name} does not exist`);
  }
  return { fetch, index: index2, ping, sourceIndex, targetIndex };
}
async function unavailableOnFailure(what, operation) {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof DependencyUnavailableError) throw error;
    if (error instanceof errors.ResponseError && error.statusCode === 404) {
      throw new DependencyUnavailableError("elasticsearch", `Elasticsearch ${what}: index not found`, { cause: error });
    }
    throw new DependencyUnavailableError("elasticsearch", `Elasticsearch unavailable ${what}: ${describeError(error)}`, {
      cause: error
    });
  }
}

// src/config.ts
import { Type as Type4 } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
var NonEmpty = (description) => Type4.String({ minLength: 1, description });
var Port = (fallback, description) => Type4.Integer({ minimum: 1, maximum: 65535, default: fallback, description });
var Protocol = (description) => Type4.Union([Type4.Literal("http"), Type4.Literal("https")], { default: "https", description });
var Secret = (description) => Type4.Optional(Type4.String({ minLength: 1, description, secret: true }));
var ConfigSchema = Type4.Object({
  cluster_url: NonEmpty("MySQL primary host: every write and the migration run here."),
  cluster_url_readonly: Type4.Optional(NonEmpty("MySQL read replica host for look-ups; the primary when unset.")),
  db_port: Port(3306, "MySQL port."),
  db_username: NonEmpty("MySQL user."),
  db_password: Type4.String({ default: "", description: "MySQL password.", secret: true }),
  max_connections: Type4.Integer({ minimum: 1, maximum: 1e3, default: 10, description: "Connection pool size (per pool)." }),
  IDENTIFIERS_DATABASE: Type4.String({
    pattern: "^[A-Za-z0-9_]{1,64}$",
    default: "identifiers",
    description: "Database (schema) that holds the identifier tables."
  }),
  APPLY_MIGRATIONS: Type4.Boolean({
    default: false,
    description: "Create the database if missing and apply migrations at start-up."
  }),
  es_upstream_host: NonEmpty("Elasticsearch host holding the source works."),
  es_upstream_port: Port(9200, "Port of the source Elasticsearch."),
  es_upstream_protocol: Protocol("http or https for the source Elasticsearch."),
  es_apikey: Secret("API key for the source Elasticsearch."),
  es_source_index: NonEmpty("Index the source works are read from."),
  es_downstream_host: NonEmpty("Elasticsearch host the identified works are written to."),
  es_downstream_port: Port(9200, "Port of the target Elasticsearch."),
  es_downstream_protocol: Protocol("http or https for the target Elasticsearch."),
  es_downstream_apikey: Secret("API key for the target Elasticsearch."),
  es_downstream_username: Type4.Optional(NonEmpty("User for the target Elasticsearch (with es_downstream_password).")),
  es_downstream_password: Secret("Password for the target Elasticsearch."),
  es_identified_index: NonEmpty("Index the identified works are written to."),
  metrics_namespace: Type4.String({ minLength: 1, default: "id-minter", description: "CloudWatch metrics namespace." }),
  LOG_LEVEL: Type4.Union(
    ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((level) => Type4.Literal(level)),
    { default: "info", description: "pino log level (case-insensitive)." }
  ),
  PORT: Port(8080, "HTTP port of the server."),
  HOST: Type4.String({ minLength: 1, default: "127.0.0.1", description: "Address the server listens on." })
});
var ConfigError = class extends Error {
  name = "ConfigError";
};
var properties = ConfigSchema.properties;
function isSecret(name) {
  const schema = properties[name];
  return schema?.secret === true || schema?.anyOf?.some((s) => s.secret === true) === true;
}
var secretNames = Object.keys(properties).filter(isSecret);
function loadConfig(env = process.env) {
  const raw = {};
  for (const name of Object.keys(properties)) {
    const value = env[name];
    if (value !== void 0 && value !== "") raw[name] = name === "LOG_LEVEL" ? value.toLowerCase() : value;
  }
  const candidate = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw));
  const error = Value.Errors(ConfigSchema, candidate).First();
  if (error) {
    const name = error.path.replace(/^\//, "").split("/")[0] ?? error.path;
    if (raw[name] === void 0) throw new ConfigError(`Invalid configuration: ${name} is required but not set`);
    const shown = isSecret(name) ? "(value hidden)" : JSON.stringify(raw[name]);
    throw new ConfigError(`Invalid configuration: ${name}=${shown}: ${error.message.toLowerCase()}`);
  }
  const config = candidate;
  if (config.es_downstream_password !== void 0 && config.es_downstream_username === void 0) {
    throw new ConfigError("Invalid configuration: es_downstream_username is required when es_downstream_password is set");
  }
  return config;
}

// src/logger.ts
function loggerOptions(config) {
  const pretty = process.stdout.isTTY && !process.env.AWS_LAMBDA_FUNCTION_NAME && prettyPrinterInstalled();
  return {
    level: config.LOG_LEVEL,
    redact: {
      paths: [
        "req.headers.authorization",
        'req.headers["x-api-key"]',
        "req.headers.cookie",
        "headers.authorization",
        'headers["x-api-key"]',
        ...secretNames,
        ...secretNames.map((name) => `*.${name}`),
        "password",
        "*.password",
        "auth",
        "*.auth"
      ],
      censor: "[redacted]"
    },
    ...pretty ? { transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } } } : {}
  };
}
function prettyPrinterInstalled() {
  try {
    import.meta.resolve("pino-pretty");
    return true;
  } catch {
    return false;
  }
}

// src/app.ts
var REQUEST_ID = /^[\w.:-]{1,128}$/;
async function buildApp(config, options = {}) {
  const fastifyOptions = {
    logger: { ...loggerOptions(config), ...options.logStream ? { stream: options.logStream } : {} },
    genReqId: (request) => {
      const given = request.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Validation must not coerce: 123 is not a source identifier, and "true" is not a jobId's absence.
    ajv: { customOptions: { coerceTypes: false } }
  };
  const app2 = Fastify(fastifyOptions).withTypeProvider();
  app2.decorate("config", config);
  await app2.register(database_default, config);
  await app2.register(elasticsearch_default, config);
  await app2.register(swagger_default);
  app2.addSchema(ErrorResponse);
  const works = createWorkStore({
    source: app2.elasticsearch.source,
    target: app2.elasticsearch.target,
    sourceIndex: config.es_source_index,
    targetIndex: config.es_identified_index
  });
  const identifiers2 = createIdentifierStore({
    primary: app2.database.primary,
    replica: app2.database.replica,
    ready: app2.database.ready
  });
  await app2.register(mint_default, { minter: createMinter({ identifiers: identifiers2, works }) });
  await app2.register(health_default, { dependencies: { database: app2.database, works } });
  app2.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  app2.setErrorHandler((error, request, reply) => {
    if (error instanceof DependencyUnavailableError) {
      request.log.warn({ err: error, dependency: error.dependency }, "dependency unavailable");
      return reply.code(503).send({ statusCode: 503, error: STATUS_CODES[503], message: error.message });
    }
    const statusCode = error.statusCode ?? 500;
    if (statusCode >= 400 && statusCode < 500) {
      return reply.code(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] ?? "Error", message: error.message });
    }
    request.log.error({ err: error }, "request failed");
    return reply.code(500).send({ statusCode: 500, error: STATUS_CODES[500], message: "Internal Server Error" });
  });
  app2.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ statusCode: 404, error: STATUS_CODES[404], message: `Route ${request.method} ${request.url} not found` });
  });
  return app2;
}

// fixtures/local-env.ts
var localEnv = {
  cluster_url: "127.0.0.1",
  db_port: "3306",
  db_username: "root",
  db_password: "",
  es_upstream_host: "127.0.0.1",
  es_upstream_port: "9200",
  es_upstream_protocol: "http",
  es_source_index: "works-source-dev",
  es_downstream_host: "127.0.0.1",
  es_downstream_port: "9200",
  es_downstream_protocol: "http",
  es_identified_index: "works-identified-dev",
  APPLY_MIGRATIONS: "true",
  PORT: "8080"
};

// bench/_scratch/child.ts
var t0 = performance.now();
var app = await buildApp(loadConfig({ ...localEnv, LOG_LEVEL: "silent", IDENTIFIERS_DATABASE: "bx_scratch" }));
await app.listen({ port: 0, host: "127.0.0.1" });
var t1 = performance.now();
console.log("build+listen ms", (t1 - t0).toFixed(0), "uptime", (process.uptime() * 1e3).toFixed(0), "rss MB", (process.memoryUsage().rss / 1e6).toFixed(1), "maxRSS MB", (process.resourceUsage().maxRSS / 1024).toFixed(1));
await app.close();
