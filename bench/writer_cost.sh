#!/usr/bin/env bash
# What the relay costs the application's writers and the database, in one
# run on one throwaway PostgreSQL (fsync on): the writers' maximum commit
# rate (pgbench, 4 clients, each transaction one UPDATE of a business row
# and one outbox INSERT over 200 keys) with no relay, with the relay running
# (on_ack: delete, then mark_sent), and with the relay paused; and the CPU
# time of the relay's database backends per 1,000 messages (from /proc).
#   bench/writer_cost.sh [SECONDS [BIN_DIR]]   (default 15 s per condition, build/release)
set -euo pipefail
# A failing command substitution exits without a word under set -e (CI saw
# one, with no output): say where.
trap 'echo "writer_cost.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
seconds=${1:-15}
bin_dir=${2:-$root/build/release}
relay_bin=$bin_dir/relay/outbox-relay
[[ -x "$relay_bin" ]] || { echo "$relay_bin not found (cmake --build --preset release)" >&2; exit 1; }

work=$(mktemp -d /tmp/outbox-writer-cost.XXXXXX)
chmod 755 "$work"
relay_pid=""
cleanup() {
  [[ -n "$relay_pid" ]] && { kill -CONT "$relay_pid"; kill "$relay_pid"; wait "$relay_pid"; } 2>/dev/null
  [[ -n "${DEV_BROKER_PID:-}" ]] && kill "$DEV_BROKER_PID" 2>/dev/null
  "$root/scripts/throwaway-pg" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

dsn=$(THROWAWAY_PG_FSYNC=on "$root/scripts/throwaway-pg" start "$work/pg")
config="$work/relay.yaml"
# A fresh broker for each condition: the mock broker's work per request grows
# with what its partitions hold, and one left full by the last condition
# took up to 0.75 of a core at 1,000 msg/s (0.2 fresh), from the writers.
fresh_broker() {
  stop_dev_broker
  start_dev_broker "$bin_dir/relay" "$work/broker" --topic orders:12
  write_relay_config "$config" "$dsn" "$DEV_BROKER_BOOTSTRAP"
}
fresh_broker
"$relay_bin" migrate --config "$config" >/dev/null
psql -qX "$dsn" -c "CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
  INSERT INTO accounts SELECT i, 0 FROM generate_series(1, 200) i;"
cat >"$work/writer.sql" <<'SQL'
\set k random(1, 200)
BEGIN;
UPDATE accounts SET balance = balance + 1 WHERE id = :k;
INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'acct-' || :k, convert_to(repeat('x', 200), 'UTF8'));
COMMIT;
SQL

# CPU seconds (user + system) used so far by the relay's backends.
backend_cpu() {
  local total=0 pid ticks
  for pid in $(psql -AtX "$dsn" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'outbox-relay'"); do
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + ticks))
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}
published() { curl -s --retry 3 --retry-connrefused --retry-delay 1 "http://127.0.0.1:$port/metrics" | awk '/^outbox_relay_messages_published_total/ {n += $2} END {print n + 0}'; }
writers() { pgbench -n -c 4 -j 2 -T "$seconds" -f "$work/writer.sql" "$dsn" 2>/dev/null | sed -n 's/^tps = \([0-9]*\).*/\1/p'; }
start_relay() {
  fresh_broker
  sed -i "s/^  on_ack: .*//; s/^relay:$/relay:\n  on_ack: $1/" "$config"
  "$relay_bin" run --config "$config" >"$work/relay.log" 2>&1 &
  relay_pid=$!
  wait_until 10 grep -q 'msg="relay started"' "$work/relay.log" || { cat "$work/relay.log"; exit 1; }
  port=$(metrics_port "$work/relay.log")
  drained() { [[ $(psql -AtX "$dsn" -c "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0 ]]; }
  wait_until 60 drained
}
stop_relay() { kill "$relay_pid"; wait "$relay_pid" || true; relay_pid=""; }

# The writers' rate drifts on a shared machine: "no relay" is measured first
# and last, and each ratio is against the mean of the two. Rows are printed
# once both are known.
base_first=$(writers)
for mode in delete mark_sent; do
  psql -qX "$dsn" -c "TRUNCATE outbox" -c "VACUUM ANALYZE outbox"
  start_relay "$mode"
  cpu0=$(backend_cpu) sent0=$(published)
  relay0=$(proc_cpu "$relay_pid") broker0=$(proc_cpu "$DEV_BROKER_PID") t0=$(date +%s.%N)
  tps=$(writers)
  relay1=$(proc_cpu "$relay_pid") broker1=$(proc_cpu "$DEV_BROKER_PID") t1=$(date +%s.%N)
  backends1=$(backend_cpu)
  printf -v "split_$mode" '%s' "$(awk -v t="$t1" -v s="$t0" -v b0="$cpu0" -v b1="$backends1" \
    -v r0="$relay0" -v r1="$relay1" -v k0="$broker0" -v k1="$broker1" 'BEGIN {
      d = t - s; printf "relay %.2f, its database sessions %.2f, broker %.2f", (r1 - r0) / d, (b1 - b0) / d, (k1 - k0) / d }')"
  wait_until 60 drained || true
  cpu1=$(backend_cpu) sent1=$(published)
  printf -v "tps_$mode" '%s' "$tps"
  printf -v "cpu_$mode" '%s' "$(awk -v c="$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { print b - a }')" \
    -v n="$((sent1 - sent0))" 'BEGIN { if (n > 0) printf "%.1f ms (%d msgs)", c * 1e6 / n, n; else print "-" }')"
  stop_relay
done
psql -qX "$dsn" -c "TRUNCATE outbox" -c "VACUUM ANALYZE outbox"
start_relay delete
kill -STOP "$relay_pid"
tps_paused=$(writers)
kill -CONT "$relay_pid"
stop_relay
psql -qX "$dsn" -c "TRUNCATE outbox" -c "VACUUM ANALYZE outbox"
base_last=$(writers)
base=$(awk -v a="$base_first" -v b="$base_last" 'BEGIN { printf "%.0f", (a + b) / 2 }')
ratio() { awk -v a="$1" -v b="$base" 'BEGIN { printf "%.2f", a / b }'; }

printf '%-34s %14s %10s %26s\n' "condition (fsync on, ${seconds} s)" "writers tps" "vs none" "relay backends CPU / 1k msg"
printf '%-34s %14s %10s %26s\n' "no relay (first, last)" "$base_first, $base_last" "1.00" "-"
printf '%-34s %14s %10s %26s\n' "relay running (on_ack: delete)" "$tps_delete" "$(ratio "$tps_delete")" "$cpu_delete"
printf '%-34s %14s %10s %26s\n' "relay running (on_ack: mark_sent)" "$tps_mark_sent" "$(ratio "$tps_mark_sent")" "$cpu_mark_sent"
printf '%-34s %14s %10s %26s\n' "relay paused (SIGSTOP)" "$tps_paused" "$(ratio "$tps_paused")" "-"
echo "cores busy while the writers ran (of $(nproc); the writers and PostgreSQL have the rest):"
echo "  on_ack: delete     $split_delete"
echo "  on_ack: mark_sent  $split_mark_sent"
