#!/usr/bin/env bash
# End to end: the real outbox-relay and outbox-dev-broker binaries, rows
# written with psql, the topic read back with kcat, /metrics checked with
# promtool. Usage: relay_e2e.sh BIN_DIR
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
e2e_begin e2e

# stop_relay N: sends N SIGTERMs (0.3 s apart) and waits; sets relay_status
# and stop_seconds.
stop_relay() {
  local started=$SECONDS
  for ((i = 0; i < $1; i++)); do
    ((i == 0)) || sleep 0.3
    kill -TERM "$relay_pid"
  done
  set +e
  wait "$relay_pid"
  relay_status=$?
  set -e
  relay_pid=""
  stop_seconds=$((SECONDS - started))
}

start_relay() {
  "$relay" run --config "$config" >"$work/relay.log" 2>&1 &
  relay_pid=$!
  wait_until 10 grep -q 'msg="relay started"' "$work/relay.log" || fail "relay did not start"
}

pending_rows_for_key() { psql -tAq "$dsn" -c "SELECT count(*) FROM outbox WHERE key = '$1'"; }

dsn=$("$root/scripts/throwaway-pg" start "$work/pg")
start_dev_broker "$bin_dir" "$work" --topic orders:4
config="$work/relay.yaml"
# The throwaway server trusts local connections, so the password is unused:
# it is there to prove that it never reaches a log line or check-config.
secret="pw-$RANDOM$RANDOM"
write_relay_config "$config" "$dsn password=$secret" "$DEV_BROKER_BOOTSTRAP"
relay="$bin_dir/outbox-relay"

# --- the CLI contract -------------------------------------------------------
"$relay" --version | grep -q '^outbox-relay [0-9]' || fail "--version"
set +e
"$relay" >/dev/null 2>&1; [[ $? == 2 ]] || fail "no subcommand must exit 2"
"$relay" bogus >/dev/null 2>&1; [[ $? == 2 ]] || fail "an unknown command must exit 2"
cat >"$work/bad.yaml" <<'YAML'
postgres: { dsn: "x" }
kafka:
  bootstrap_servers: "b:1"
  properties: { no.such.thing: "1" }
relay: { batch_size: 0, surprise: 1 }
YAML
bad_output=$("$relay" check-config --config "$work/bad.yaml" 2>&1); bad_status=$?
set -e
[[ $bad_status == 78 ]] || fail "bad config must exit 78 (got $bad_status)"
grep -q "bad.yaml:4:32: kafka.properties.no.such.thing: No such configuration property" <<<"$bad_output" ||
  fail "bad librdkafka property not reported: $bad_output"
grep -q "bad.yaml:5:22: relay.batch_size: must be between 1 and 10000 (got 0)" <<<"$bad_output" ||
  fail "batch_size problem not reported: $bad_output"
grep -q "bad.yaml:5:25: relay.surprise: unknown key" <<<"$bad_output" ||
  fail "unknown key not reported: $bad_output"
pass "bad config: every problem reported as file:line:col, exit 78"
"$relay" check-config --config "$config" >"$work/resolved.yaml" || fail "check-config on a good config"
grep -q "password=\*\*\*" "$work/resolved.yaml" || fail "check-config must show the password redacted"
! grep -q "$secret" "$work/resolved.yaml" || fail "check-config printed the password"

# The dev broker keeps one replica: refuse mode must not start, warn mode
# (the default) starts and says what to change.
sed 's/^kafka:$/kafka:\n  topics: [orders]\n  durability_check: refuse/' "$config" >"$work/refuse.yaml"
set +e
"$relay" run --config "$work/refuse.yaml" >"$work/refuse.log" 2>&1; status=$?
set -e
[[ $status == 1 ]] || fail "durability_check: refuse must exit 1 on a 1-replica topic (got $status)"
grep -q 'msg="topic may lose acknowledged messages" topic=orders problem="topic orders has replication factor 1' \
  "$work/refuse.log" || fail "refuse log: $(cat "$work/refuse.log")"
grep -q 'msg="not starting: kafka.durability_check is refuse' "$work/refuse.log" || fail "refuse reason"
pass "durability_check: refuse stops at a 1-replica topic, naming the setting"

"$relay" migrate --config "$config" | grep -q "applied 0001_outbox.sql" || fail "migrate"
"$relay" migrate --config "$config" | grep -q "up to date" || fail "second migrate"
pass "migrate applies schema/ once"

# --- publish ----------------------------------------------------------------
start_relay
port=$(metrics_port "$work/relay.log")

rows=200
{
  for i in $(seq 1 $rows); do
    key="customer-$((i % 7))"
    echo "BEGIN;"
    echo "INSERT INTO outbox (topic, key, payload, headers) VALUES ('orders', '$key', 'order $i', '{\"seq\": \"$i\", \"type\": \"OrderPlaced\"}');"
    echo "COMMIT;"
  done
  # No key, and a tombstone.
  echo "INSERT INTO outbox (topic, key, payload, headers) VALUES ('orders', NULL, 'keyless', '{\"seq\": \"$((rows + 1))\"}');"
  echo "INSERT INTO outbox (topic, key, payload, headers) VALUES ('orders', 'customer-1', NULL, '{\"seq\": \"$((rows + 2))\"}');"
} | psql -q -v ON_ERROR_STOP=1 "$dsn"
total=$((rows + 2))

outbox_empty() { [[ $(psql -tAq "$dsn" -c "SELECT count(*) FROM outbox") == 0 ]]; }
wait_until 60 outbox_empty || fail "outbox not drained"
pass "outbox drained"

# kcat: partition, offset, key, payload, headers (one line per message).
kcat -b "$DEV_BROKER_BOOTSTRAP" -C -t orders -o beginning -e -q \
  -f '%p\t%o\t%k\t%s\t%h\n' -Z >"$work/consumed.tsv" 2>"$work/kcat.log" || fail "kcat"
consumed=$(wc -l <"$work/consumed.tsv")
[[ $consumed == "$total" ]] || fail "expected $total messages, kcat read $consumed"
for i in $(seq 1 $rows); do
  grep -qP "^\d+\t\d+\tcustomer-$((i % 7))\torder $i\toutbox-id=\d+,seq=$i,type=OrderPlaced$" \
    "$work/consumed.tsv" || fail "message $i missing or wrong: $(grep "seq=$i," "$work/consumed.tsv")"
done
grep -qP "^\d+\t\d+\tNULL\tkeyless\toutbox-id=$((rows + 1)),seq=$((rows + 1))$" "$work/consumed.tsv" ||
  fail "keyless message wrong"
grep -qP "^\d+\t\d+\tcustomer-1\tNULL\toutbox-id=$((rows + 2)),seq=$((rows + 2))$" "$work/consumed.tsv" ||
  fail "tombstone wrong"
pass "kcat read every key, payload and header"

# Per key: one partition, outbox ids increasing with offsets.
sort -t$'\t' -k1,1n -k2,2n "$work/consumed.tsv" | awk -F'\t' '
  $3 != "NULL" {
    split($5, h, ","); sub("outbox-id=", "", h[1]); id = h[1] + 0
    if (($3 in part) && part[$3] != $1) { print "key " $3 " on two partitions"; bad = 1 }
    if (($3 in last) && id <= last[$3]) { print "key " $3 " out of order"; bad = 1 }
    part[$3] = $1; last[$3] = id
  }
  END { exit bad }' || fail "per-key order"
pass "per-key partition and order"
wait_until 10 grep -q 'msg="topic may lose acknowledged messages" topic=orders' "$work/relay.log" ||
  fail "warn mode must log the 1-replica topic when first published to"

# --- metrics ----------------------------------------------------------------
lag_zero() { curl -fsS "http://127.0.0.1:$port/metrics" | grep -q "^outbox_relay_oldest_pending_age_seconds 0$"; }
wait_until 10 lag_zero || fail "oldest_pending_age_seconds not 0 after draining"
curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics.txt" || fail "scrape"
promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics"
grep -q "^outbox_relay_messages_published_total{topic=\"orders\"} $total$" "$work/metrics.txt" ||
  fail "published_total: $(grep published_total "$work/metrics.txt")"
curl -fsS "http://127.0.0.1:$port/healthz" | grep -q '"alive":true' || fail "/healthz"
curl -fsS "http://127.0.0.1:$port/readyz" | grep -q '"ready":true' || fail "/readyz"
pass "metrics pass promtool; healthz and readyz answer"

# --- graceful stop ----------------------------------------------------------
stop_relay 1
[[ $relay_status == 0 ]] || fail "SIGTERM must exit 0 (got $relay_status)"
grep -q 'msg="relay stopped"' "$work/relay.log" || fail "no stop log line"
pass "SIGTERM drains and exits 0"

# --- rows written while the relay is down are sent after restart -------------
psql -q "$dsn" -c "INSERT INTO outbox (topic, key, payload, headers) VALUES ('orders', 'late', 'while down', '{\"seq\": \"$((total + 1))\"}')"
start_relay
wait_until 30 outbox_empty || fail "row written while down not sent"
kcat -b "$DEV_BROKER_BOOTSTRAP" -C -t orders -o beginning -e -q -f '%k %s\n' | grep -q "^late while down$" ||
  fail "row written while down not in kafka"
pass "restart delivers rows written while the relay was down"

# --- a poison row: dead-lettered, its key blocked, requeued by an operator ----
port=$(metrics_port "$work/relay.log")
psql -q "$dsn" <<'SQL'
INSERT INTO outbox (topic, key, payload, headers) VALUES ('orders', 'poisoned', 'p1', '{"n": 1}');
INSERT INTO outbox (topic, key, payload, headers) VALUES ('orders', 'poisoned', 'p2', '{}');
INSERT INTO outbox (topic, key, payload, headers) VALUES ('orders', 'healthy', 'h1', '{}');
INSERT INTO outbox (topic, key, payload, headers) VALUES ('orders', 'doomed', 'd1', '["x"]');
SQL
one_row_left() { [[ $(psql -tAq "$dsn" -c "SELECT count(*) FROM outbox") == 1 ]]; }
wait_until 30 one_row_left || fail "poison rows not dead-lettered: $(psql -tAq "$dsn" -c 'SELECT id, key FROM outbox')"
[[ $(pending_rows_for_key poisoned) == 1 ]] || fail "the poisoned key's later row must wait"
expect_exit 3 "$work/status.txt" "$relay" status --config "$config"
grep -q "^  - 2 dead letters" "$work/status.txt" || fail "status must say what needs an operator: $(cat "$work/status.txt")"
grep -q "^dead letters:  2  invalid_headers=2$" "$work/status.txt" || fail "status dead letters: $(cat "$work/status.txt")"
grep -q "^blocked keys:  2  doomed, poisoned$" "$work/status.txt" || fail "status blocked keys: $(cat "$work/status.txt")"
grep -q "^shards:        16, all leased$" "$work/status.txt" || fail "status shards: $(cat "$work/status.txt")"
grep -q "^  [^ ]*:[0-9]*:[0-9a-f]* *live  since .*  shards: 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15$" "$work/status.txt" ||
  fail "status instances: $(cat "$work/status.txt")"
"$relay" status --config "$config" --json >"$work/status.json" || [[ $? == 3 ]] || fail "status --json"
grep -q '"blocked_keys": 2' "$work/status.json" || fail "status --json: $(cat "$work/status.json")"
"$relay" dead-letters list --config "$config" --key poisoned >"$work/list.txt" || fail "list"
grep -q "poisoned .*invalid_headers .* yes .*\"n\" is a number" "$work/list.txt" || fail "list: $(cat "$work/list.txt")"
poison_id=$("$relay" dead-letters list --config "$config" --key poisoned --json | sed -n 's/^ *"id": \([0-9]*\),$/\1/p')
"$relay" dead-letters show --config "$config" "$poison_id" | grep -q '^p1$' || fail "show"
# A payload that is not UTF-8 but has no control characters once aborted
# `show --json` (exit 134): it goes as hex.
psql -q "$dsn" -c "UPDATE outbox_dead_letter SET payload = '\xc328616263'::bytea WHERE id = $poison_id"
"$relay" dead-letters show --config "$config" "$poison_id" --json >"$work/show.json" ||
  fail "show --json on a payload that is not UTF-8 (exit $?)"
grep -q '"payload_hex": "c328616263"' "$work/show.json" || fail "show --json: $(cat "$work/show.json")"
psql -q "$dsn" -c "UPDATE outbox_dead_letter SET payload = 'p1' WHERE id = $poison_id"
expect_exit 2 "$work/requeue.txt" "$relay" dead-letters requeue --config "$config"
"$relay" dead-letters requeue --config "$config" --key poisoned --dry-run | grep -q "^would requeue 1 dead letter: $poison_id$" ||
  fail "requeue --dry-run"
psql -q "$dsn" -c "UPDATE outbox_dead_letter SET headers = '{\"fixed\": \"yes\"}' WHERE id = $poison_id"
"$relay" dead-letters requeue --config "$config" --key poisoned | grep -q "^requeued 1 dead letter: $poison_id$" || fail "requeue"
wait_until 30 outbox_empty || fail "requeued row and the row behind it not delivered"
kcat -b "$DEV_BROKER_BOOTSTRAP" -C -t orders -o beginning -e -q -f '%k %s %h\n' >"$work/poisoned.txt"
[[ $(grep '^poisoned ' "$work/poisoned.txt" | cut -d' ' -f2 | paste -sd,) == "p1,p2" ]] ||
  fail "the poisoned key must arrive in order after the requeue: $(grep '^poisoned ' "$work/poisoned.txt")"
grep -q "^poisoned p1 outbox-id=$poison_id,fixed=yes$" "$work/poisoned.txt" || fail "requeued row keeps its outbox-id"
"$relay" dead-letters purge --config "$config" --reason invalid_headers | grep -q "^purged 1 dead letter" || fail "purge"
[[ $(psql -tAq "$dsn" -c "SELECT count(*) FROM outbox_dead_letter") == 0 ]] || fail "purge left rows"
curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics.txt" || fail "scrape"
grep -q '^outbox_relay_dead_lettered_total{reason="invalid_headers"} 2$' "$work/metrics.txt" ||
  fail "dead_lettered_total: $(grep dead_lettered "$work/metrics.txt")"
promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics"
pass "poison rows dead-lettered; status, list, show, requeue (in order, same outbox-id) and purge work"

# --- stopping while the broker is gone --------------------------------------
stop_dev_broker
psql -q "$dsn" -c "INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'stuck', 'broker gone')"
sleep 1  # the relay is now waiting for acks that cannot come
stop_relay 1
[[ $relay_status == 0 ]] || fail "SIGTERM with the broker gone must still exit 0 (got $relay_status)"
((stop_seconds <= 15)) || fail "drain took $stop_seconds s; drain_timeout_ms is 5000"
[[ $(pending_rows_for_key stuck) == 1 ]] || fail "the unacknowledged row must stay pending"
pass "SIGTERM with the broker gone: bounded drain, exit 0, row stays pending"

start_relay
sleep 1
stop_relay 2
[[ $relay_status == 1 ]] || fail "a second signal must exit at once with 1 (got $relay_status)"
((stop_seconds <= 2)) || fail "second signal took $stop_seconds s"
grep -q 'msg="second signal: exiting now' "$work/relay.log" || fail "no log line for the second signal"
[[ $(pending_rows_for_key stuck) == 1 ]] || fail "the unacknowledged row must stay pending after a hard stop"
pass "second signal exits at once; the row stays pending"
! grep -q "$secret" "$work"/*.log || fail "a log line contains the database password"
pass "the database password appears in no log line"
echo "relay_e2e: all checks passed"
