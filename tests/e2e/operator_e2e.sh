#!/usr/bin/env bash
# What an on-call engineer meets: the first scrape after a start, readiness
# while idle with every broker gone, the health command, SIGHUP, and the
# operator commands (config from the environment, unknown commands, "N of
# M", ids as arguments, purge --all on a terminal, status exit codes).
# Usage: operator_e2e.sh BIN_DIR
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
e2e_begin operator

relay="$bin_dir/outbox-relay"
dsn=$("$root/scripts/throwaway-pg" start "$work/pg")
start_dev_broker "$bin_dir" "$work" --topic orders:2
config="$work/relay.yaml"
write_relay_config "$config" "$dsn" "$DEV_BROKER_BOOTSTRAP"
# Statistics every second, so that an idle relay learns quickly that its
# brokers are gone; kafka.topics, so that their counters exist from the start
# (without the durability check, which the dev broker answers slowly).
sed -i 's/^  properties:$/  topics: [orders]\n  durability_check: "off"\n  properties:\n    statistics.interval.ms: "1000"/' "$config"
"$relay" migrate --config "$config" >/dev/null || fail "migrate"

scrape() { curl -fsS "http://127.0.0.1:$port/$1"; }
readyz() { curl -sS "http://127.0.0.1:$port/readyz"; }  # 503 has a body too
log_has() { grep -q -- "$1" "$work/relay.log"; }

# --- the first scrape --------------------------------------------------------
OUTBOX_RELAY_CONFIG=$config "$relay" run >"$work/relay.log" 2>&1 &
relay_pid=$!
wait_until 10 log_has 'msg="metrics endpoint listening"' || fail "relay did not start"
port=$(metrics_port "$work/relay.log")
scrape metrics >"$work/first.txt" || fail "first scrape"
promtool check metrics <"$work/first.txt" || fail "promtool check metrics"
for series in 'outbox_relay_messages_published_total{topic="orders"} 0' \
  'outbox_relay_dead_lettered_total{reason="invalid_headers"} 0' \
  'outbox_relay_dead_lettered_total{reason="msg_size_too_large"} 0' \
  'outbox_relay_publish_errors_total{reason="msg_timed_out"} 0' \
  'outbox_relay_retries_total{reason="topic_authorization_failed"} 0' \
  'outbox_relay_shard_handovers_total{event="lost"} 0'; do
  grep -qxF "$series" "$work/first.txt" || fail "the first scrape lacks $series"
done
for family in process_cpu_seconds_total process_resident_memory_bytes process_start_time_seconds \
  process_open_fds process_max_fds; do
  grep -q "^$family [0-9]" "$work/first.txt" || fail "no $family"
done
started=$(sed -n 's/^process_start_time_seconds \([0-9.e+]*\)$/\1/p' "$work/first.txt")
awk -v s="$started" -v now="$(date +%s)" 'BEGIN { exit !(s > now - 60 && s <= now + 1) }' ||
  fail "process_start_time_seconds $started is not this process's start"
pass "the first scrape has every known label at 0 and the process_* metrics"

# --- readiness and the health command while idle -----------------------------
ready() { readyz | grep '"ready":true' >/dev/null; }
wait_until 15 ready || fail "not ready: $(curl -s "http://127.0.0.1:$port/readyz")"
sed 's/^  listen: .*/  listen: "127.0.0.1:'"$port"'"/' "$config" >"$work/probe.yaml"
"$relay" health --config "$work/probe.yaml" | grep -q '"alive":true' || fail "health"
"$relay" health --ready --config "$work/probe.yaml" >/dev/null || fail "health --ready"
kill -USR1 "$DEV_BROKER_PID"  # every broker refuses connections
unready() { readyz | grep '"kafka":"unreachable"' >/dev/null; }
wait_until 20 unready || fail "idle with the brokers gone, still: $(curl -s "http://127.0.0.1:$port/readyz")"
expect_exit 1 "$work/health.txt" "$relay" health --ready --config "$work/probe.yaml"
scrape metrics >"$work/down.txt" || fail "scrape with the brokers gone"
grep -qx 'outbox_relay_kafka_up 0' "$work/down.txt" || fail "kafka_up with the brokers gone"
kill -USR2 "$DEV_BROKER_PID"
wait_until 30 ready || fail "not ready again after the brokers came back"
# A refused connection is one warn line with its reason, not error lines.
log_has 'level=warn msg="kafka client error" reason=' || fail "no warn line for the refused broker"
! grep 'level=error' "$work/relay.log" | grep -q 'Connect to' ||
  fail "a refused connection was logged at error level: $(grep 'level=error' "$work/relay.log")"
pass "idle relay: unready while every broker is gone, ready again after; health answers"

# --- SIGHUP -------------------------------------------------------------------
cat >>"$config" <<'YAML'
log:
  level: debug
  format: json
YAML
kill -HUP "$relay_pid"
wait_until 10 grep -q '"msg":"log settings reloaded","log_level":"debug","log_format":"json"}' "$work/relay.log" ||
  fail "SIGHUP did not reload log.*"
kill -0 "$relay_pid" || fail "SIGHUP ended the relay"
# JSON lines with numbers as numbers: a dead letter's id (purged by id).
bad_id=$(psql -tAqX "$dsn" -c "INSERT INTO outbox (topic, key, payload, headers) VALUES ('orders', 'k', 'x', '[1]') RETURNING id")
wait_until 10 grep -q "\"msg\":\"row moved to the dead-letter table[^\"]*\",\"id\":$bad_id," "$work/relay.log" ||
  fail "no JSON line with the id as a number: $(tail -n 5 "$work/relay.log")"
"$relay" dead-letters purge --config "$config" "$bad_id" | grep -qx "purged 1 dead letter: $bad_id" ||
  fail "purge by id"
sed -i 's/^  poll_interval_ms: 50$/  poll_interval_ms: 60/' "$config"
kill -HUP "$relay_pid"
wait_until 10 grep -q 'settings other than log.\* changed' "$work/relay.log" ||
  fail "a changed setting other than log.* was not reported"
echo "relay: { batch_size: many }" >>"$config"
kill -HUP "$relay_pid"
wait_until 10 grep -q 'the reloaded config has problems; the relay keeps its settings' "$work/relay.log" ||
  fail "a broken config on SIGHUP was not reported"
grep -q 'relay.yaml:[0-9]*:[0-9]*: relay' "$work/relay.log" || fail "the broken key was not named"
kill -0 "$relay_pid" || fail "a broken config on SIGHUP ended the relay"
kill -TERM "$relay_pid"
set +e
wait "$relay_pid"
status=$?
set -e
relay_pid=""
[[ $status == 0 ]] || fail "SIGTERM after SIGHUPs must drain and exit 0 (got $status)"
sed -i '$d' "$config"  # the broken line
pass "SIGHUP reloads log.*, reports other changes and broken configs, and keeps running"

# --- the CLI ------------------------------------------------------------------
"$relay" --version >"$work/version.txt"
grep -qE '^outbox-relay [0-9.]+ \(commit [0-9a-f]{7,}(-modified)?|unknown\)$' "$work/version.txt" ||
  fail "--version: $(cat "$work/version.txt")"
grep -qE '^librdkafka [0-9]+\.[0-9]+' "$work/version.txt" || fail "--version lacks librdkafka"
grep -qE '^libpq [0-9]+\.[0-9]+' "$work/version.txt" || fail "--version lacks libpq"
expect_exit 2 "$work/cli.txt" "$relay" stauts
grep -q 'unknown command "stauts"; did you mean "status"?' "$work/cli.txt" || fail "unknown command: $(cat "$work/cli.txt")"
"$relay" dead-letters --help | grep -q 'requeue' || fail "dead-letters --help"
expect_exit 2 "$work/cli.txt" "$relay" dead-letters
grep -q 'outbox-relay dead-letters: give a command: list, show, requeue, purge' "$work/cli.txt" ||
  fail "dead-letters without a command: $(cat "$work/cli.txt")"
expect_exit 2 "$work/cli.txt" "$relay" run --bogus --config "$config"
grep -q '^outbox-relay run: .*--bogus' "$work/cli.txt" || fail "run --bogus: $(cat "$work/cli.txt")"
if [[ ! -e /etc/outbox-relay/config.yaml ]]; then
  expect_exit 78 "$work/cli.txt" env -u OUTBOX_RELAY_CONFIG "$relay" status
  grep -q 'give --config FILE, set OUTBOX_RELAY_CONFIG, or write /etc/outbox-relay/config.yaml' "$work/cli.txt" ||
    fail "no config: $(cat "$work/cli.txt")"
fi
export OUTBOX_RELAY_CONFIG=$config

# No relay runs now: every shard is without one, so status needs an operator.
expect_exit 3 "$work/status.txt" "$relay" status
grep -qE 'shards [0-9,]+ have no live relay' "$work/status.txt" || fail "status: $(cat "$work/status.txt")"
psql -qX "$dsn" <<'SQL'
INSERT INTO outbox (topic, key, payload, headers)
SELECT 'orders', 'bad-' || g, 'x', '{"n": 1}' FROM generate_series(1, 3) g;
SQL
sleep 1.2
"$relay" status >"$work/status.txt" || true
grep -qE '^pending: +3 \(oldest [0-9.]+s old\)$' "$work/status.txt" || fail "readable age: $(cat "$work/status.txt")"
"$relay" status --json >"$work/status.json" || true
grep -qE '"oldest_pending_age_seconds": [0-9]+\.[0-9]+' "$work/status.json" || fail "exact age in --json"

"$relay" run >"$work/relay.log" 2>&1 &
relay_pid=$!
dead_letters() { [[ $(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox_dead_letter") == 3 ]]; }
wait_until 30 dead_letters || fail "the bad rows were not dead-lettered"
mapfile -t ids < <(psql -tAqX "$dsn" -c "SELECT id FROM outbox_dead_letter ORDER BY id")
expect_exit 3 "$work/status.txt" "$relay" status
grep -q '^  - 3 dead letters' "$work/status.txt" || fail "status: $(cat "$work/status.txt")"
grep -q '^  - 3 keys blocked' "$work/status.txt" || fail "status: $(cat "$work/status.txt")"
expect_exit 3 "$work/status.json" "$relay" status --json
grep -q '"needs_operator": \[' "$work/status.json" || fail "status --json: $(cat "$work/status.json")"

"$relay" dead-letters list --limit 2 >"$work/list.txt" 2>"$work/list.err" || fail "list"
grep -qx "2 of 3 dead letters shown (oldest first); --limit N shows more" "$work/list.err" ||
  fail "list --limit 2: $(cat "$work/list.err")"
(($(grep -c 'invalid_headers' "$work/list.txt") == 2)) || fail "list --limit 2 rows: $(cat "$work/list.txt")"
"$relay" dead-letters show "${ids[0]}" "${ids[2]}" >"$work/show.txt" || fail "show two ids"
(($(grep -c '^id: ' "$work/show.txt") == 2)) || fail "show two ids: $(cat "$work/show.txt")"
"$relay" dead-letters requeue "${ids[1]}" --dry-run | grep -qx "would requeue 1 dead letter: ${ids[1]}" ||
  fail "requeue by id"

# purge --all on a terminal asks; "no" purges nothing.
printf 'no\n' | script -qec "$relay dead-letters purge --all" /dev/null >"$work/purge.txt" 2>&1 || true
grep -q "purge all 3 dead letters (${ids[0]}, ${ids[1]}, ${ids[2]}) for good? Type yes to go on:" "$work/purge.txt" ||
  fail "purge --all did not ask: $(cat "$work/purge.txt")"
grep -q "nothing purged" "$work/purge.txt" || fail "declined purge: $(cat "$work/purge.txt")"
dead_letters || fail "a declined purge deleted rows"
printf 'yes\n' | script -qec "$relay dead-letters purge --all" /dev/null >"$work/purge.txt" 2>&1
grep -q "purged 3 dead letters: ${ids[0]}, ${ids[1]}, ${ids[2]}" "$work/purge.txt" ||
  fail "confirmed purge: $(cat "$work/purge.txt")"
# Nothing left: nothing to ask.
script -qec "$relay dead-letters purge --all" /dev/null </dev/null >"$work/purge.txt" 2>&1
grep -q "purged 0 dead letters" "$work/purge.txt" && ! grep -q "Type yes" "$work/purge.txt" ||
  fail "purge --all with nothing to purge: $(cat "$work/purge.txt")"
# Not a terminal (a script): no question.
"$relay" dead-letters purge --all </dev/null | grep -qx "purged 0 dead letters" || fail "purge --all in a script"
wait_until 20 "$relay" status || fail "status must exit 0 once nothing needs an operator: $("$relay" status)"
pass "CLI: config from the environment, named unknown commands, N of M, ids, purge asks, status exit codes"
