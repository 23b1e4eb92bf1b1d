#!/usr/bin/env bash
# Makes the backing services reachable for dev, tests and the benchmark: a MySQL-compatible
# server on 127.0.0.1:3306, Elasticsearch on 127.0.0.1:9200 and an SQS-compatible server
# (ElasticMQ) on 127.0.0.1:9324, started in that order.
# Idempotent: whatever is already up is left alone. `stop` stops only what this script started
# (its own processes, by pid file, and the docker compose services it brought up itself).
#
#   services.sh start [database|elasticsearch|elasticmq ...]   default: all three
#   services.sh stop  [database|elasticsearch|elasticmq ...]   default: all three
set -euo pipefail

ES_VERSION="${ES_VERSION:-8.19.21}"
ES_PORT=9200
DB_PORT=3306
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
ES_HOME="$CACHE/elasticsearch-$ES_VERSION"
ES_DATA="$CACHE/es-data"
ES_RUN="$CACHE/es-run"
ES_PID="$ES_RUN/elasticsearch.pid"
ES_USER="idminter-es"
EMQ_VERSION="${ELASTICMQ_VERSION:-1.6.11}"
EMQ_PORT=9324
EMQ_HOME="$CACHE/elasticmq-$EMQ_VERSION"   # the server's jars and its dependencies', nothing else
EMQ_JAR="$EMQ_HOME/org.elasticmq.elasticmq-server_2.13-$EMQ_VERSION.jar"
EMQ_CONF="$ROOT/scripts/elasticmq.conf"
EMQ_RUN="$CACHE/elasticmq-run"
EMQ_PID="$EMQ_RUN/elasticmq.pid"
EMQ_LOG="$CACHE/elasticmq-logs/elasticmq.log"
COMPOSE_STARTED="$CACHE/compose-started"   # the docker compose services this script brought up, one a line

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
es_up() { curl -fsS -m 2 "http://127.0.0.1:$ES_PORT/_cluster/health" >/dev/null 2>&1; }
docker_engine() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }
# A real SQS call in the JSON protocol (the one AWS SDK v3 speaks): any SQS server answers it with a JSON object.
# (Read whole, not piped into grep -q: with pipefail a long queue list would fail the check on SIGPIPE.)
sqs_up() {
  local out
  out="$(curl -fsS -m 2 -X POST "http://127.0.0.1:$EMQ_PORT/" \
    -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: AmazonSQS.ListQueues' -d '{}' 2>/dev/null)" || return 1
  [[ $out == "{"* ]]
}

compose() { docker compose -f "$ROOT/docker-compose.yml" "$@"; }
compose_up() { # service: brings it up and records that this script did, so that `stop` stops it and nothing else
  compose up -d "$1"
  mkdir -p "$CACHE"
  grep -qsx "$1" "$COMPOSE_STARTED" || echo "$1" >>"$COMPOSE_STARTED"
}
compose_stop() { # service: stops it only if compose_up recorded it; returns 1 if it was not this script's
  grep -qsx "$1" "$COMPOSE_STARTED" || return 1
  if docker_engine; then
    log "$2: stopping the docker compose service $1"
    compose stop "$1" >/dev/null 2>&1 || true
    local rest; rest="$(grep -vx "$1" "$COMPOSE_STARTED" || true)"
    if [ -n "$rest" ]; then printf '%s\n' "$rest" >"$COMPOSE_STARTED"; else rm -f "$COMPOSE_STARTED"; fi
  else
    log "$2: the docker compose service $1 was started by this script, but no Docker engine answers now; left as it is"
  fi
}

wait_for() { # description, seconds, command...
  local what=$1 secs=$2; shift 2
  for ((i = 0; i < secs; i++)); do
    if "$@"; then return 0; fi
    sleep 1
  done
  die "$what did not come up within ${secs}s"
}

start_database() {
  if port_open "$DB_PORT"; then log "database: already listening on 127.0.0.1:$DB_PORT"; return; fi
  if [ -x /usr/sbin/mariadbd ] && [ "$(id -u)" = 0 ]; then
    log "database: starting the local MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  elif docker_engine; then
    log "database: starting MySQL 8 with docker compose"
    compose_up mysql
  else
    die "nothing listens on 127.0.0.1:$DB_PORT and neither a local MariaDB (run as root) nor a Docker engine is available to start one"
  fi
  wait_for "the database" 60 port_open "$DB_PORT"
}

java_home() {
  if [ -n "${ES_JAVA_HOME:-}" ]; then echo "$ES_JAVA_HOME"; return; fi
  local java; java="$(command -v java || true)"
  [ -n "$java" ] || return 1
  dirname "$(dirname "$(readlink -f "$java")")"
}

fetch_elasticsearch() {
  [ -x "$ES_HOME/bin/elasticsearch" ] && return
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to fetch Elasticsearch $ES_VERSION from Maven Central"
  command -v unzip >/dev/null 2>&1 || die "unzip is needed to unpack Elasticsearch"
  local coords="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"
  log "elasticsearch: fetching $coords"
  mkdir -p "$CACHE"
  mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$coords" -DoutputDirectory="$CACHE" >&2
  local zip="$CACHE/elasticsearch-$ES_VERSION.zip"
  [ -f "$zip" ] || die "Maven reported success but $zip is missing"
  mkdir -p "$CACHE"
  local tmp="$CACHE/unpack.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  unzip -q "$zip" -d "$tmp"
  mv "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
  rm -rf "$tmp" "$zip"
}

start_elasticsearch() {
  if es_up; then log "elasticsearch: already answering on 127.0.0.1:$ES_PORT"; return; fi
  local jh
  if jh="$(java_home)" && [ -x "$jh/bin/java" ]; then
    fetch_elasticsearch
    mkdir -p "$ES_DATA" "$CACHE/es-logs" "$ES_RUN"
    local run=()
    if [ "$(id -u)" = 0 ]; then
      # Elasticsearch refuses to run as root, so it gets a system user of its own.
      id "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER"
      chown -R "$ES_USER" "$ES_HOME" "$ES_DATA" "$CACHE/es-logs" "$ES_RUN"
      run=(runuser -u "$ES_USER" --)
    fi
    log "elasticsearch: starting $ES_VERSION (java at $jh)"
    "${run[@]}" env ES_JAVA_HOME="$jh" ES_JAVA_OPTS="${ES_JAVA_OPTS:--Xms512m -Xmx512m}" \
      "$ES_HOME/bin/elasticsearch" -d -p "$ES_PID" \
      -E discovery.type=single-node \
      -E network.host=127.0.0.1 \
      -E http.port="$ES_PORT" \
      -E path.data="$ES_DATA" \
      -E path.logs="$CACHE/es-logs" \
      -E cluster.routing.allocation.disk.threshold_enabled=false \
      -E xpack.security.enabled=false \
      >"$CACHE/es-start.log" 2>&1 \
      || { tail -n 30 "$CACHE/es-start.log" >&2; die "elasticsearch failed to start (log: $CACHE/es-logs)"; }
  elif docker_engine; then
    log "elasticsearch: starting with docker compose"
    compose_up elasticsearch
  else
    die "nothing answers on 127.0.0.1:$ES_PORT and neither Java 17+ (with Maven) nor a Docker engine is available to start Elasticsearch"
  fi
  wait_for "elasticsearch" 180 es_up
  log "elasticsearch: up on http://127.0.0.1:$ES_PORT"
}

stop_database() {
  # A local MariaDB is shared with whatever else uses it and is left running; only a compose mysql
  # that this script brought up is stopped.
  compose_stop mysql database || log "database: not started by this script with docker compose; left running"
}

stop_elasticsearch() {
  local pid="" stopped=""
  [ -s "$ES_PID" ] && pid="$(cat "$ES_PID" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "elasticsearch: stopping pid $pid"
    kill "$pid"
    for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    rm -f "$ES_PID"
    stopped=1
  fi
  compose_stop elasticsearch elasticsearch && stopped=1
  [ -n "$stopped" ] || log "elasticsearch: not started by this script"
}

fetch_elasticmq() {
  [ -f "$EMQ_JAR" ] && return
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to fetch ElasticMQ $EMQ_VERSION from Maven Central"
  local coords="org.elasticmq:elasticmq-server_2.13:$EMQ_VERSION"
  local work="$CACHE/elasticmq-fetch.$$"
  rm -rf "$work"; mkdir -p "$work"
  # A throwaway POM depends on the server and the dependency plugin copies its runtime classpath. The
  # server's POM also lists elasticmq-common-test, which Maven Central does not have; it is test-scoped,
  # so Maven should never resolve it, and the exclusion keeps it out whatever the resolver does.
  # Jar names carry their group id, so two artifacts of one name cannot overwrite each other.
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.id-minter</groupId>
  <artifactId>elasticmq-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.elasticmq</groupId>
      <artifactId>elasticmq-server_2.13</artifactId>
      <version>$EMQ_VERSION</version>
      <exclusions>
        <exclusion>
          <groupId>org.elasticmq</groupId>
          <artifactId>elasticmq-common-test_2.13</artifactId>
        </exclusion>
      </exclusions>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.6.1</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
  log "elasticmq: fetching $coords and its runtime dependencies"
  # Maven's output is kept for a failure only (with -q, Maven 3.8 still prints bare colour resets).
  mvn -q -B -Dstyle.color=never -f "$work/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -Dmdep.prependGroupId=true -DoutputDirectory="$work/lib" >"$work/mvn.log" 2>&1 \
    || { sed 's/\x1b\[[0-9;]*m//g' "$work/mvn.log" | tail -n 40 >&2; rm -rf "$work"; die "Maven could not fetch $coords"; }
  [ -f "$work/lib/$(basename "$EMQ_JAR")" ] || { rm -rf "$work"; die "Maven reported success but $(basename "$EMQ_JAR") is missing"; }
  # Whole or not at all: the directory appears only once every jar is in it.
  mv -T "$work/lib" "$EMQ_HOME" 2>/dev/null || [ -f "$EMQ_JAR" ] || { rm -rf "$work"; die "could not move the jars to $EMQ_HOME"; }
  rm -rf "$work"
  log "elasticmq: $(find "$EMQ_HOME" -name '*.jar' | wc -l) jars in $EMQ_HOME"
}

elasticmq_pid() { # prints the pid in the pid file if that process is still this script's ElasticMQ
  local pid
  [ -s "$EMQ_PID" ] && pid="$(cat "$EMQ_PID" 2>/dev/null)" && [ -n "$pid" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'org.elasticmq.server.Main' || return 1
  echo "$pid"
}

start_elasticmq() {
  if sqs_up; then log "elasticmq: already answering SQS on 127.0.0.1:$EMQ_PORT"; return; fi
  local pid jh
  if pid="$(elasticmq_pid)"; then
    log "elasticmq: pid $pid (started earlier by this script) is not answering yet; waiting for it"
  elif port_open "$EMQ_PORT"; then
    die "something listens on 127.0.0.1:$EMQ_PORT but does not answer SQS (ListQueues); free the port"
  elif jh="$(java_home)" && [ -x "$jh/bin/java" ] && { [ -f "$EMQ_JAR" ] || command -v mvn >/dev/null 2>&1; }; then
    fetch_elasticmq
    [ -f "$EMQ_CONF" ] || die "$EMQ_CONF is missing"
    mkdir -p "$EMQ_RUN" "$(dirname "$EMQ_LOG")"
    local opts; read -ra opts <<<"${ELASTICMQ_JAVA_OPTS:--Xmx512m}"
    log "elasticmq: starting $EMQ_VERSION (java at $jh)"
    # Its own session, so that neither the terminal's hangup nor a signal to the caller's process group reaches it.
    nohup setsid "$jh/bin/java" "${opts[@]}" -Dconfig.file="$EMQ_CONF" -cp "$EMQ_HOME/*" org.elasticmq.server.Main \
      </dev/null >"$EMQ_LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$EMQ_PID"
  elif docker_engine; then
    log "elasticmq: starting with docker compose"
    compose_up elasticmq
    wait_for "elasticmq" 120 sqs_up
    log "elasticmq: up on http://127.0.0.1:$EMQ_PORT"
    return
  else
    local missing=() engine="no docker client"
    java_home >/dev/null 2>&1 || missing+=("java")
    command -v mvn >/dev/null 2>&1 || missing+=("mvn")
    command -v docker >/dev/null 2>&1 && engine="a docker client but no engine answering"
    die "nothing answers SQS on 127.0.0.1:$EMQ_PORT and ElasticMQ cannot be started: it needs Java 17+ with Maven (missing here: $(IFS=,; echo "${missing[*]}" | sed 's/,/, /g')) or a Docker engine ($engine)"
  fi
  for ((i = 0; i < 90; i++)); do
    if sqs_up; then log "elasticmq: up on http://127.0.0.1:$EMQ_PORT (pid $pid)"; return; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      sqs_up && { log "elasticmq: up on http://127.0.0.1:$EMQ_PORT"; return; }
      rm -f "$EMQ_PID"
      tail -n 30 "$EMQ_LOG" >&2 2>/dev/null || true
      die "elasticmq exited before answering (log: $EMQ_LOG)"
    fi
    sleep 1
  done
  die "elasticmq did not answer SQS within 90s (pid $pid, log: $EMQ_LOG)"
}

stop_elasticmq() {
  local pid stopped=""
  if pid="$(elasticmq_pid)"; then
    log "elasticmq: stopping pid $pid"
    kill "$pid"
    for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then log "elasticmq: pid $pid ignored SIGTERM for 30s; killing it"; kill -9 "$pid" 2>/dev/null || true; fi
    stopped=1
  fi
  rm -f "$EMQ_PID"
  compose_stop elasticmq elasticmq && stopped=1
  [ -n "$stopped" ] || log "elasticmq: not started by this script"
}

ALL=(database elasticsearch elasticmq)
action="${1:-start}"
[ $# -gt 0 ] && shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
for n in "${names[@]}"; do
  case "$n" in database | elasticsearch | elasticmq) ;; *) die "unknown service '$n' (database, elasticsearch or elasticmq)" ;; esac
done
case "$action" in
  start) # always in the order database, Elasticsearch, ElasticMQ
    for n in "${ALL[@]}"; do if [[ " ${names[*]} " == *" $n "* ]]; then "start_$n"; fi; done ;;
  stop) # the reverse
    for ((k = ${#ALL[@]} - 1; k >= 0; k--)); do n="${ALL[k]}"; if [[ " ${names[*]} " == *" $n "* ]]; then "stop_$n"; fi; done ;;
  *) die "usage: services.sh start|stop [database|elasticsearch|elasticmq ...]" ;;
esac
