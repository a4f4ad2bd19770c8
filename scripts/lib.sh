# Shell helpers shared by scripts/demo and the end-to-end tests. Source it.

# wait_until SECONDS COMMAND...: retries COMMAND every 0.2 s; fails after SECONDS.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# start_dev_broker BIN_DIR WORK_DIR [ARGS...]: starts outbox-dev-broker in the
# background, sets DEV_BROKER_PID and DEV_BROKER_BOOTSTRAP. A broker.out left
# in WORK_DIR by an earlier broker is removed first: it would pass for this
# one's before it has written its own.
start_dev_broker() {
  local bin_dir=$1 work_dir=$2
  shift 2
  mkdir -p "$work_dir"
  rm -f "$work_dir/broker.out"
  "$bin_dir/outbox-dev-broker" "$@" >"$work_dir/broker.out" 2>"$work_dir/broker.log" &
  DEV_BROKER_PID=$!
  wait_until 10 test -s "$work_dir/broker.out" || {
    echo "outbox-dev-broker did not start:" >&2
    cat "$work_dir/broker.log" >&2
    return 1
  }
  DEV_BROKER_BOOTSTRAP=$(head -n 1 "$work_dir/broker.out")
}

# stop_dev_broker: stops the broker start_dev_broker started, if any (its
# messages go with it).
stop_dev_broker() {
  if [[ -n "${DEV_BROKER_PID:-}" ]]; then
    kill "$DEV_BROKER_PID" 2>/dev/null || true
    wait "$DEV_BROKER_PID" 2>/dev/null || true
    DEV_BROKER_PID=""
  fi
}

# write_relay_config FILE DSN BOOTSTRAP: a config for local runs (metrics on a
# free port, logged by the relay).
write_relay_config() {
  cat >"$1" <<YAML
postgres:
  dsn: "$2"
kafka:
  bootstrap_servers: "$3"
  properties:
    linger.ms: "5"
relay:
  poll_interval_ms: 50
  drain_timeout_ms: 5000
metrics:
  listen: "127.0.0.1:0"
  refresh_interval_ms: 200
YAML
}

# proc_cpu PID: the CPU seconds (user + system) the process has used so far.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# inbox_applied DSN CONSUMER: how many messages the outbox::inbox consumer
# CONSUMER has applied in the database at DSN (0 before its tables exist).
inbox_applied() {
  psql -tAqX "$1" -c "SELECT count(*) FROM inbox WHERE consumer = '$2' AND outcome = 'applied'" 2>/dev/null || echo 0
}

# metrics_port LOG_FILE: the port the relay logged for its metrics endpoint.
metrics_port() {
  sed -n 's/.*msg="metrics endpoint listening".* port=\([0-9]*\).*/\1/p' "$1" | head -n 1
}

# --- for the end-to-end tests -------------------------------------------------

# e2e_begin NAME: a work directory ($work) the postgres user can reach, and an
# EXIT trap that stops the processes named by $relay_pid, $extra_pid and
# $DEV_BROKER_PID and the throwaway PostgreSQL in $work/pg.
e2e_begin() {
  work=$(mktemp -d "/tmp/outbox-$1.XXXXXX")
  chmod 755 "$work"
  relay_pid="" extra_pid=""
  trap e2e_cleanup EXIT
}

e2e_cleanup() {
  local pid
  for pid in "$relay_pid" "$extra_pid"; do
    if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi || true
  done
  [[ -n "${DEV_BROKER_PID:-}" ]] && kill "$DEV_BROKER_PID" 2>/dev/null || true
  "$root/scripts/throwaway-pg" stop "$work/pg" || true
  rm -rf "$work"
}

# fail MESSAGE: prints it with the tail of every log in $work, exits 1.
fail() {
  echo "FAIL: $*" >&2
  local log
  for log in "$work"/*.log; do
    [[ -f "$log" ]] && { echo "--- $(basename "$log")" >&2; tail -n 20 "$log" >&2; }
  done
  exit 1
}

pass() { echo "ok: $*"; }

# expect_exit CODE FILE COMMAND...: runs COMMAND with its output in FILE and
# fails unless it exits CODE.
expect_exit() {
  local code=$1 out=$2
  shift 2
  set +e
  "$@" >"$out" 2>&1
  local got=$?
  set -e
  [[ $got == "$code" ]] || fail "$* must exit $code (got $got): $(cat "$out")"
}
