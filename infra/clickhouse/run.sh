#!/usr/bin/env bash
# Local development ClickHouse: Debian's clickhouse-server (18.16) as a background process of
# the current user, with config, data, tmp, logs and pid file under $STACK_DIR/clickhouse.
# Never touches /etc/clickhouse-server or /var/lib/clickhouse, so it needs no service manager
# and several instances (dev stack, test stack) can run side by side on different ports.
#
#   infra/clickhouse/run.sh start    generate the config, start, wait for /ping (idempotent)
#   infra/clickhouse/run.sh stop     SIGTERM, SIGKILL after 20 s (idempotent)
#   infra/clickhouse/run.sh status   prints running/stopped; exit 0 when running, 3 when not
#
# Environment: STACK_DIR (default var, relative to the repo root), CLICKHOUSE_HTTP_PORT (8123),
# CLICKHOUSE_TCP_PORT (9000), CLICKHOUSE_ANALYST_PASSWORD (analyst),
# CLICKHOUSE_ANALYST_MAX_EXECUTION_TIME (300 s). Listens on 127.0.0.1 only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TEMPLATE_DIR="$ROOT/infra/clickhouse"
STACK_DIR="${STACK_DIR:-var}"
case "$STACK_DIR" in /*) ;; *) STACK_DIR="$ROOT/$STACK_DIR" ;; esac
HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-8123}"
TCP_PORT="${CLICKHOUSE_TCP_PORT:-9000}"
CH_DIR="$STACK_DIR/clickhouse"
ETC_DIR="$CH_DIR/etc"
DATA_DIR="$CH_DIR/data"
TMP_DIR="$CH_DIR/tmp"
LOG_DIR="$CH_DIR/logs"
PID_FILE="$CH_DIR/clickhouse-server.pid"
# The URL the running server was started with: `status` and other tools read it instead of
# guessing from an environment that may differ from the one `start` saw.
URL_FILE="$CH_DIR/url"
START_TIMEOUT_S=60
STOP_TIMEOUT_S=20

# Bash 5.2 treats `&` in ${var//pattern/replacement} as the matched text; paths are literal.
shopt -u patsub_replacement 2>/dev/null || true

log() { printf '[clickhouse] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

server_command() {
  # /usr/sbin is not on every user's PATH; newer packages ship one `clickhouse` multi-binary.
  local candidate
  for candidate in "$(command -v clickhouse-server || true)" /usr/bin/clickhouse-server \
    /usr/sbin/clickhouse-server; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then
      SERVER_CMD=("$candidate")
      return
    fi
  done
  if command -v clickhouse >/dev/null 2>&1; then
    SERVER_CMD=("$(command -v clickhouse)" server)
    return
  fi
  die "clickhouse-server not found (Debian: apt-get install clickhouse-server clickhouse-client)"
}

read_pid() { [[ -f "$PID_FILE" ]] && tr -d '[:space:]' <"$PID_FILE"; }

# Alive and still a ClickHouse process: a stale pid file may name a recycled pid.
pid_is_server() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q clickhouse
}

is_running() {
  local pid
  pid="$(read_pid || true)"
  [[ -n "$pid" ]] && pid_is_server "$pid"
}

ping_ok() { # ping_ok <port>
  [[ "$(curl -s --max-time 2 "http://127.0.0.1:$1/ping" 2>/dev/null || true)" == "Ok." ]]
}

port_in_use() { # port_in_use <port>
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

xml_escape() {
  local value="$1"
  value="${value//&/&amp;}"
  value="${value//</&lt;}"
  value="${value//>/&gt;}"
  printf '%s' "$value"
}

render() { # render <template> <output> KEY=VALUE...
  local template="$1" output="$2" content pair
  shift 2
  content="$(<"$template")"
  for pair in "$@"; do
    content="${content//@${pair%%=*}@/$(xml_escape "${pair#*=}")}"
  done
  if [[ "$content" =~ @[A-Z0-9_]+@ ]]; then die "unfilled ${BASH_REMATCH[0]} in $template"; fi
  printf '%s\n' "$content" >"$output.tmp"
  mv "$output.tmp" "$output"
}

write_config() {
  local hash
  # printf is a builtin, so the password never shows up in a process list.
  hash="$(printf '%s' "${CLICKHOUSE_ANALYST_PASSWORD:-analyst}" | sha256sum | cut -d' ' -f1)"
  render "$TEMPLATE_DIR/config.xml.template" "$ETC_DIR/config.xml" \
    "LOG_DIR=$LOG_DIR" "DATA_DIR=$DATA_DIR" "TMP_DIR=$TMP_DIR" \
    "HTTP_PORT=$HTTP_PORT" "TCP_PORT=$TCP_PORT"
  (umask 077 && render "$TEMPLATE_DIR/users.xml.template" "$ETC_DIR/users.xml" \
    "ANALYST_PASSWORD_SHA256=$hash" \
    "ANALYST_MAX_EXECUTION_TIME=${CLICKHOUSE_ANALYST_MAX_EXECUTION_TIME:-300}")
}

print_error_log() {
  local file
  for file in "$LOG_DIR/clickhouse-server.err.log" "$LOG_DIR/stdout.log"; do
    if [[ -s "$file" ]]; then
      log "last lines of ${file#"$ROOT"/}:"
      tail -n 25 "$file" >&2
    fi
  done
}

# Serialises start/stop of one instance (two test workers, or a script racing a user).
take_lock() {
  mkdir -p "$CH_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CH_DIR/run.lock"
    flock -w $((START_TIMEOUT_S + STOP_TIMEOUT_S + 10)) 9 || die "another run.sh holds $CH_DIR/run.lock"
  fi
}

kill_and_wait() { # kill_and_wait <pid>
  local pid="$1" deadline=$((SECONDS + STOP_TIMEOUT_S))
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "pid $pid did not stop in ${STOP_TIMEOUT_S} s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.2
  done
}

start() {
  take_lock
  if is_running; then
    log "already running (pid $(read_pid), $(cat "$URL_FILE" 2>/dev/null || echo "port unknown"))"
    return 0
  fi
  rm -f "$PID_FILE"
  local port
  for port in "$HTTP_PORT" "$TCP_PORT"; do
    [[ "$port" =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "invalid port \"$port\""
  done
  # Another server on our port would answer our /ping and make a failed start look healthy.
  for port in "$HTTP_PORT" "$TCP_PORT"; do
    if port_in_use "$port"; then
      die "127.0.0.1:$port is already in use by another process (set CLICKHOUSE_HTTP_PORT/CLICKHOUSE_TCP_PORT)"
    fi
  done
  server_command
  mkdir -p "$ETC_DIR" "$DATA_DIR" "$TMP_DIR" "$LOG_DIR"
  write_config
  : >"$LOG_DIR/stdout.log"

  # The subshell execs nohup, which execs the server, so $! is the server's pid. Output goes
  # to a file: a caller that captures this script's output must not wait on the server. Fd 9
  # (the lock) is closed so the server does not hold it for its lifetime and block `stop`.
  (cd "$CH_DIR" && exec nohup "${SERVER_CMD[@]}" --config-file="$ETC_DIR/config.xml" \
    </dev/null >>"$LOG_DIR/stdout.log" 2>&1 9>&-) &
  local pid=$!
  echo "$pid" >"$PID_FILE"

  local deadline=$((SECONDS + START_TIMEOUT_S))
  until ping_ok "$HTTP_PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      print_error_log
      die "clickhouse-server exited during start-up"
    fi
    if ((SECONDS >= deadline)); then
      print_error_log
      kill_and_wait "$pid"
      rm -f "$PID_FILE"
      die "clickhouse-server did not answer /ping within ${START_TIMEOUT_S} s"
    fi
    sleep 0.2
  done
  echo "http://127.0.0.1:$HTTP_PORT" >"$URL_FILE"
  log "running (pid $pid, http://127.0.0.1:$HTTP_PORT, native 127.0.0.1:$TCP_PORT, data ${DATA_DIR#"$ROOT"/})"
}

stop() {
  take_lock
  local pid
  pid="$(read_pid || true)"
  if [[ -n "$pid" ]] && pid_is_server "$pid"; then
    kill_and_wait "$pid"
    log "stopped (pid $pid)"
  else
    log "not running"
  fi
  rm -f "$PID_FILE" "$URL_FILE"
}

status() {
  if is_running; then
    echo "running (pid $(read_pid), $(cat "$URL_FILE" 2>/dev/null || echo "starting"))"
    return 0
  fi
  echo "stopped"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
