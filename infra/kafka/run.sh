#!/usr/bin/env bash
# Local Apache Kafka: a 3-node KRaft cluster on 127.0.0.1, every node both broker and
# controller (combined mode: three JVMs instead of six on a 2-core machine), run from the jars
# that Maven Central serves (infra/kafka/pom.xml pins the version). Data, configs and pid files
# live under $STACK_DIR/kafka/node-<id>; restarts keep the data.
#
#   infra/kafka/run.sh fetch               download the pinned version into .cache/ (idempotent)
#   infra/kafka/run.sh start               format storage on first start, start every node that is
#                                          not running, wait until each serves (idempotent)
#   infra/kafka/run.sh stop                SIGTERM all nodes at once (controlled shutdown while the
#                                          quorum still exists), SIGKILL after 60 s (idempotent)
#   infra/kafka/run.sh status              one line per node; exit 0 when all run, 3 otherwise
#   infra/kafka/run.sh start-node <id>     start one node (after a kill or stop), wait until it serves
#   infra/kafka/run.sh stop-node <id>      stop one node cleanly
#   infra/kafka/run.sh pid <id>            the node's JVM pid (tests send it SIGKILL/SIGSTOP/SIGCONT)
#   infra/kafka/run.sh version             the pinned Kafka version
#   infra/kafka/run.sh users               make the SCRAM users match $STACK_DIR/secrets/kafka/*.password
#                                          (start runs it; again after a rotation)
#
# Security: clients connect with SASL/SCRAM-SHA-512 on the client listeners (no anonymous
# access: there is no PLAINTEXT listener), and the StandardAuthorizer allows each principal
# only what the ACLs from topics/catalogue.json grant (scripts/kafka-access.ts). Brokers and
# controllers talk to each other on their own listeners with PLAIN as the `cluster` principal,
# whose password is $STACK_DIR/secrets/kafka/cluster.password (scripts/kafka-access.ts
# passwords writes it with the others); `cluster` and `admin` are the super users. See
# docs/security.md.
#
# Environment:
#   STACK_DIR     state folder (default var, relative to the repo root)
#   KAFKA_PORT    first broker port (default 9092): node <id> serves clients on
#                 KAFKA_PORT + id - 1, its controller on KAFKA_PORT + id + 2 and the
#                 broker-to-broker listener on KAFKA_PORT + id + 5; the bootstrap list is
#                 written to $STACK_DIR/kafka/bootstrap
#   KAFKA_HEAP    maximum heap per node (default 512m; see the footprint in the README)
#   KAFKA_CACHE   where fetched distributions live (default .cache, relative to the repo root)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/infra/kafka"
STACK_DIR="${STACK_DIR:-var}"
case "$STACK_DIR" in /*) ;; *) STACK_DIR="$ROOT/$STACK_DIR" ;; esac
KAFKA_CACHE="${KAFKA_CACHE:-.cache}"
case "$KAFKA_CACHE" in /*) ;; *) KAFKA_CACHE="$ROOT/$KAFKA_CACHE" ;; esac
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
KAFKA_DIR="$STACK_DIR/kafka"
SECRETS_DIR="$STACK_DIR/secrets/kafka"
LOG_DIR="$STACK_DIR/logs"
NODES=(1 2 3)
START_TIMEOUT_S="${KAFKA_START_TIMEOUT_S:-180}"
STOP_TIMEOUT_S=60

log() { printf '[kafka] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

kafka_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml" | head -1
}
VERSION="$(kafka_version)"
[[ -n "$VERSION" ]] || die "no <kafka.version> in $HERE/pom.xml"
DIST="$KAFKA_CACHE/kafka-$VERSION"

broker_port() { echo $((KAFKA_PORT + $1 - 1)); }
controller_port() { echo $((KAFKA_PORT + $1 + 2)); }
internal_port() { echo $((KAFKA_PORT + $1 + 5)); }
node_dir() { echo "$KAFKA_DIR/node-$1"; }
pid_file() { echo "$(node_dir "$1")/kafka.pid"; }

fetch() {
  if [[ -f "$DIST/.complete" ]]; then return; fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka $VERSION"
  log "fetching Apache Kafka $VERSION from Maven Central into ${DIST#"$ROOT"/} (first time only)"
  rm -rf "$DIST"
  mkdir -p "$DIST/libs"
  mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$DIST/libs" >&2 \
    || die "fetching Kafka $VERSION through Maven failed"
  touch "$DIST/.complete"
}

read_pid() { local f; f="$(pid_file "$1")"; [[ -f "$f" ]] && tr -d '[:space:]' <"$f"; }

# Alive and still this node's JVM: a stale pid file may name a recycled pid.
node_running() {
  local pid
  pid="$(read_pid "$1" || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$(node_dir "$1")/server.properties"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

voters() {
  local id out=()
  for id in "${NODES[@]}"; do out+=("$id@127.0.0.1:$(controller_port "$id")"); done
  (IFS=,; echo "${out[*]}")
}

bootstrap() {
  local id out=()
  for id in "${NODES[@]}"; do out+=("127.0.0.1:$(broker_port "$id")"); done
  (IFS=,; echo "${out[*]}")
}

internal_bootstrap() {
  local id out=()
  for id in "${NODES[@]}"; do out+=("127.0.0.1:$(internal_port "$id")"); done
  (IFS=,; echo "${out[*]}")
}

# The broker-to-broker principal's password, written with every other principal's by
# scripts/kafka-access.ts passwords (infra/local-stack.sh up runs it first); kept across
# restarts, as the brokers of a running cluster must agree on it.
cluster_password() {
  local file="$SECRETS_DIR/cluster.password"
  [[ -s "$file" ]] || die "$file is missing: run 'node --import tsx scripts/kafka-access.ts passwords $SECRETS_DIR' (make up does)"
  tr -d '[:space:]' <"$file"
}

# The node's configuration, written at every start from the current environment, so a port
# change takes effect at the next restart; the cluster id and the data stay.
write_config() {
  local id="$1" dir; dir="$(node_dir "$id")"
  cluster_password >/dev/null # exits here, not inside the heredoc's substitution, if missing
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Generated by infra/kafka/run.sh at every start; edit the script, not this file.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$(voters)
listeners=CLIENT://127.0.0.1:$(broker_port "$id"),INTERNAL://127.0.0.1:$(internal_port "$id"),CONTROLLER://127.0.0.1:$(controller_port "$id")
advertised.listeners=CLIENT://127.0.0.1:$(broker_port "$id"),INTERNAL://127.0.0.1:$(internal_port "$id")
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
log.dirs=$dir/data

config.providers=dir
config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider

# Authentication: clients with SCRAM-SHA-512 (credentials in the cluster metadata, managed by
# run.sh users); brokers and controllers with PLAIN as \`cluster\` on their own listeners
# (SCRAM cannot authenticate controllers: its credentials live in the metadata they serve).
# No listener accepts anonymous connections.
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.internal.sasl.enabled.mechanisms=PLAIN
listener.name.internal.plain.sasl.jaas.config=$(cluster_jaas)
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=$(cluster_jaas)
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN

# Authorisation: nothing is allowed without an ACL; the ACLs come from topics/catalogue.json
# (scripts/kafka-access.ts). \`admin\` (topic creation, ACLs, tests) and \`cluster\` are super users.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:cluster;User:admin

# Durability: three replicas, two must acknowledge (producers send acks=all). Topics come
# from topics/catalogue.json through the admin API; nothing is created by a typo.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
auto.create.topics.enable=false
unclean.leader.election.enable=false

# Sized for a 2-core development machine: fewer internal partitions than the production
# default of 50 (each one is three replicas to create and follow), few threads.
offsets.topic.num.partitions=12
transaction.state.log.num.partitions=12
num.network.threads=2
num.io.threads=4
num.replica.fetchers=1
background.threads=4
log.cleaner.threads=1

# Tests and make up start consumer groups from empty; the production default (3 s) only
# batches joins of members that start together.
group.initial.rebalance.delay.ms=0
EOF
}

# The JAAS line of the broker-to-broker logins. The password stays in its file: Kafka's
# DirectoryConfigProvider reads it when the broker starts (server.properties holds only the
# reference; docker-compose does the same with a compose secret).
cluster_jaas() {
  local ref="\${dir:$SECRETS_DIR:cluster.password}"
  printf 'org.apache.kafka.common.security.plain.PlainLoginModule required username="cluster" password="%s" user_cluster="%s";' \
    "$ref" "$ref"
}

cluster_id() {
  local file="$KAFKA_DIR/cluster-id"
  if [[ ! -s "$file" ]]; then
    mkdir -p "$KAFKA_DIR"
    java -cp "$DIST/libs/*" -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
      kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1 >"$file.tmp"
    [[ -s "$file.tmp" ]] || die "kafka-storage random-uuid failed"
    mv "$file.tmp" "$file"
  fi
  cat "$file"
}

format_node() {
  local id="$1" dir; dir="$(node_dir "$id")"
  [[ -f "$dir/data/meta.properties" ]] && return
  log "formatting node $id (cluster $(cluster_id))"
  java -cp "$DIST/libs/*" -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
    kafka.tools.StorageTool format --ignore-formatted \
    --cluster-id "$(cluster_id)" --config "$dir/server.properties" \
    >>"$LOG_DIR/kafka-$id.log" 2>&1 || die "formatting node $id failed (see $LOG_DIR/kafka-$id.log)"
}

jvm_options() {
  # G1 with short pauses as the Kafka scripts use; the heap is small because Kafka keeps its
  # data in the page cache, not on the heap.
  echo "-Xms128m -Xmx$KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20" \
    "-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent" \
    "-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true" \
    "-Dlog4j2.configurationFile=$HERE/log4j2.properties"
}

launch_node() {
  local id="$1" dir; dir="$(node_dir "$id")"
  if node_running "$id"; then return 1; fi
  if port_open "$(broker_port "$id")" || port_open "$(controller_port "$id")"; then
    die "port $(broker_port "$id") or $(controller_port "$id") is taken by another process (set KAFKA_PORT)"
  fi
  mkdir -p "$LOG_DIR"
  write_config "$id"
  format_node "$id"
  # shellcheck disable=SC2046
  nohup java $(jvm_options) -cp "$DIST/libs/*" kafka.Kafka "$dir/server.properties" \
    >>"$LOG_DIR/kafka-$id.log" 2>&1 &
  echo $! >"$(pid_file "$id")"
  return 0
}

wait_serving() { # wait_serving <id>...
  local deadline=$((SECONDS + START_TIMEOUT_S)) id
  for id in "$@"; do
    until port_open "$(broker_port "$id")"; do
      node_running "$id" || die "node $id exited during start (see $LOG_DIR/kafka-$id.log)"
      ((SECONDS < deadline)) || die "node $id did not serve within ${START_TIMEOUT_S} s"
      sleep 0.3
    done
  done
}

start() {
  fetch
  mkdir -p "$KAFKA_DIR" "$LOG_DIR"
  local started=() id t0=$SECONDS
  for id in "${NODES[@]}"; do
    if launch_node "$id"; then started+=("$id"); fi
  done
  bootstrap >"$KAFKA_DIR/bootstrap.tmp" && mv "$KAFKA_DIR/bootstrap.tmp" "$KAFKA_DIR/bootstrap"
  if ((${#started[@]} == 0)); then log "Kafka $VERSION already running at $(bootstrap)"; return; fi
  wait_serving "${started[@]}"
  log "Kafka $VERSION up at $(bootstrap) (started node(s) ${started[*]} in $((SECONDS - t0)) s)"
  users
}

# SCRAM credentials of the client principals = the password files (ScramUsers.java). The
# metadata quorum must be up: retried while the cluster settles after a start.
users() {
  fetch
  local attempt out
  for attempt in 1 2 3 4 5; do
    if out="$(java -cp "$DIST/libs/*" -Dlog4j2.configurationFile="$HERE/log4j2-tools.properties" \
      "$HERE/ScramUsers.java" "$(internal_bootstrap)" "$SECRETS_DIR" 2>>"$LOG_DIR/kafka-users.log")"; then
      log "$(tail -1 <<<"$out")"
      return
    fi
    sleep 2
  done
  die "could not set the SCRAM users (see $LOG_DIR/kafka-users.log)"
}

start_node() {
  local id="$1"
  fetch
  if launch_node "$id"; then wait_serving "$id"; log "node $id started"; else log "node $id already running"; fi
}

stop_nodes() { # stop_nodes <id>...: SIGTERM together, then wait, then SIGKILL the stragglers
  local id pid pids=()
  for id in "$@"; do
    if node_running "$id"; then
      pid="$(read_pid "$id")"
      # A stopped (SIGSTOP) JVM cannot handle SIGTERM.
      kill -CONT "$pid" 2>/dev/null || true
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$id:$pid")
    fi
    done
  local deadline=$((SECONDS + STOP_TIMEOUT_S)) entry
  for entry in "${pids[@]}"; do
    id="${entry%%:*}" pid="${entry#*:}"
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "node $id did not stop in ${STOP_TIMEOUT_S} s; killing"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "node $id stopped"
  done
  for id in "$@"; do rm -f "$(pid_file "$id")"; done
}

status() {
  local id all=0
  for id in "${NODES[@]}"; do
    if node_running "$id"; then
      printf '  node %s  running  pid %s  127.0.0.1:%s\n' "$id" "$(read_pid "$id")" "$(broker_port "$id")"
    else
      printf '  node %s  stopped\n' "$id"; all=3
    fi
  done
  return $all
}

check_node_id() {
  [[ "${1:-}" =~ ^[1-3]$ ]] || die "node id must be 1, 2 or 3 (got '${1:-}')"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop_nodes "${NODES[@]}" ;;
  status) status ;;
  start-node) check_node_id "${2:-}"; start_node "$2" ;;
  stop-node) check_node_id "${2:-}"; stop_nodes "$2" ;;
  pid) check_node_id "${2:-}"; node_running "$2" || die "node $2 is not running"; read_pid "$2" ;;
  version) echo "$VERSION" ;;
  users) mkdir -p "$LOG_DIR"; users ;;
  bootstrap) bootstrap ;;
  *)
    echo "usage: $0 fetch | start | stop | status | start-node <id> | stop-node <id> | pid <id> | version | bootstrap | users" >&2
    exit 2
    ;;
esac
