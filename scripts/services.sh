#!/usr/bin/env bash
# Makes the backing services reachable for dev, tests and the benchmark:
# a MySQL-compatible server on 127.0.0.1:3306 and Elasticsearch on 127.0.0.1:9200.
# Idempotent: whatever is already up is left alone. `stop` stops only what this script started.
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

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
es_up() { curl -fsS -m 2 "http://127.0.0.1:$ES_PORT/_cluster/health" >/dev/null 2>&1; }
docker_engine() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

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
    docker compose -f "$ROOT/docker-compose.yml" up -d mysql
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
    docker compose -f "$ROOT/docker-compose.yml" up -d elasticsearch
  else
    die "nothing answers on 127.0.0.1:$ES_PORT and neither Java 17+ (with Maven) nor a Docker engine is available to start Elasticsearch"
  fi
  wait_for "elasticsearch" 180 es_up
  log "elasticsearch: up on http://127.0.0.1:$ES_PORT"
}

stop_elasticsearch() {
  local pid=""
  [ -s "$ES_PID" ] && pid="$(cat "$ES_PID" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "elasticsearch: stopping pid $pid"
    kill "$pid"
    for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    rm -f "$ES_PID"
  else
    log "elasticsearch: not started by this script"
  fi
  if docker_engine && [ -f "$ROOT/docker-compose.yml" ]; then docker compose -f "$ROOT/docker-compose.yml" stop mysql elasticsearch >/dev/null 2>&1 || true; fi
}

case "${1:-start}" in
  start) start_database; start_elasticsearch ;;
  stop) stop_elasticsearch ;;
  *) die "usage: services.sh start|stop" ;;
esac
