#!/usr/bin/env bash
# End to end: retention of sent rows while rows flow, on a plain outbox
# (bounded DELETE batches) and on a partitioned one (whole partitions
# dropped). Nothing pending is ever removed (every committed row reaches
# Kafka, checked with kcat against the writers' own ledger), and delivery
# never pauses (the age of the oldest pending row, sampled all along, stays
# low). Usage: retention_e2e.sh BIN_DIR
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
e2e_begin retention
relay="$bin_dir/outbox-relay"

server_dsn=$("$root/scripts/throwaway-pg" start "$work/pg")
start_dev_broker "$bin_dir" "$work" --topic plain:4 --topic partitioned:4

# run_layout NAME PREPARE [MIGRATE_ARGS...]: a database of its own, migrated,
# then the PREPARE function, then the relay in mark_sent with a 2 s
# retention while writers commit 1,000 rows/s for 12 s.
run_layout() {
  local name=$1 prepare=$2
  shift 2
  psql -qX "$server_dsn" -c "CREATE DATABASE $name"
  dsn="$server_dsn dbname=$name"
  config="$work/$name.yaml"
  write_relay_config "$config" "$dsn" "$DEV_BROKER_BOOTSTRAP"
  sed -i 's/^relay:$/relay:\n  on_ack: mark_sent\n  sent_retention: 2s/' "$config"
  "$relay" migrate --config "$config" "$@" >"$work/$name-migrate.log" 2>&1 || fail "migrate $*"
  "$prepare"
  psql -qX "$dsn" -c "CREATE TABLE ledger (outbox_id bigint PRIMARY KEY)"
  cat >"$work/$name.sql" <<SQL
\\set k random(1, 200)
WITH o AS (INSERT INTO outbox (topic, key, payload) VALUES ('$name', 'k' || :k, 'x') RETURNING id)
INSERT INTO ledger SELECT id FROM o;
SQL
  "$relay" run --config "$config" >"$work/$name-relay.log" 2>&1 &
  relay_pid=$!
  wait_until 10 grep -q 'msg="relay started"' "$work/$name-relay.log" || fail "relay did not start"
  port=$(metrics_port "$work/$name-relay.log")
  pgbench -n -c 4 -j 2 -R 1000 -T 12 -f "$work/$name.sql" "$dsn" >"$work/$name-pgbench.log" 2>&1 &
  local writers=$! age
  max_age=0
  while kill -0 "$writers" 2>/dev/null; do
    # Rows written in the last hour only (a test's own old rows are not lag).
    age=$(psql -tAqX "$dsn" -c "SELECT coalesce(round(extract(epoch FROM clock_timestamp() - min(created_at)) * 1000), 0)
      FROM outbox WHERE sent_at IS NULL AND created_at > now() - interval '1 hour'")
    ((age > max_age)) && max_age=$age
    sleep 0.25
  done
  wait "$writers" || fail "pgbench: $(cat "$work/$name-pgbench.log")"
  drained() { [[ $(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0 ]]; }
  wait_until 30 drained || fail "$name: rows still pending after the writers stopped"
  committed=$(psql -tAqX "$dsn" -c "SELECT count(*) FROM ledger")
  kcat -C -b "$DEV_BROKER_BOOTSTRAP" -t "$name" -e -q -f '%h\n' 2>"$work/$name-kcat.log" |
    sed -n 's/.*outbox-id=\([0-9]*\).*/\1/p' | sort -u >"$work/$name-delivered.txt"
  psql -tAqX "$dsn" -c "SELECT outbox_id FROM ledger" | sort >"$work/$name-ledger.txt"
  lost=$(comm -23 "$work/$name-ledger.txt" "$work/$name-delivered.txt" | wc -l)
  [[ $lost == 0 ]] || fail "$name: $lost committed rows never reached Kafka"
  ((max_age < 3000)) || fail "$name: delivery paused: the oldest pending row reached ${max_age} ms"
  curl -sf "http://127.0.0.1:$port/metrics" >"$work/$name-metrics.txt" || fail "metrics"
}

metric() { sed -n "s/^$1 \([0-9.e+]*\)$/\1/p" "$2"; }

# --- a plain outbox: bounded DELETE batches --------------------------------
run_layout plain true
wait_until 10 grep -q 'msg=retention' "$work/plain-relay.log" || fail "no retention round removed anything"
kept=$(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox")
((kept < committed)) || fail "plain: retention removed nothing ($kept of $committed rows kept)"
removed=$(metric 'outbox_relay_retention_removed_total{table="outbox"}' "$work/plain-metrics.txt")
[[ -n "$removed" ]] && python3 -c "import sys; sys.exit(0 if float('$removed') > 0 else 1)" ||
  fail "plain: outbox_relay_retention_removed_total{table=\"outbox\"} = '$removed'"
! grep -q '^outbox_relay_partitions_ahead' "$work/plain-metrics.txt" ||
  fail "plain: outbox_relay_partitions_ahead must not be exported for a plain outbox"
pass "plain outbox: $committed rows at 1,000/s, all in Kafka, oldest pending row at most ${max_age} ms old, retention removed $removed sent rows ($kept left)"
kill -TERM "$relay_pid"; wait "$relay_pid" || fail "relay exit"; relay_pid=""

# --- a partitioned outbox: whole partitions dropped -------------------------
# Before the relay starts: a day long past whose rows were all sent then
# (200,000 rows), and one with a row still pending. The relay sends the
# pending one, drops the first day at once and the second once its last
# row has been sent for longer than the retention.
old_days() {
  psql -qX -v ON_ERROR_STOP=1 "$dsn" <<'SQL'
CREATE TABLE outbox_p20200101 PARTITION OF outbox
  FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-01-02 00:00+00');
CREATE TABLE outbox_p20200102 PARTITION OF outbox
  FOR VALUES FROM ('2020-01-02 00:00+00') TO ('2020-01-03 00:00+00');
INSERT INTO outbox (topic, key, payload, created_at, sent_at, sent_partition, sent_offset)
SELECT 'partitioned', 'old', 'x', '2020-01-01 12:00+00', '2020-01-01 12:01+00', 0, i
  FROM generate_series(1, 200000) i;
INSERT INTO outbox (topic, key, payload, created_at)
VALUES ('partitioned', 'old-pending', 'x', '2020-01-02 12:00+00');
SQL
}
run_layout partitioned old_days --partitioned
[[ $(psql -tAqX "$dsn" -c "SELECT relkind FROM pg_class WHERE oid = 'outbox'::regclass") == p ]] ||
  fail "migrate --partitioned did not make a partitioned outbox"
kcat -C -b "$DEV_BROKER_BOOTSTRAP" -t partitioned -e -q -f '%k\n' >"$work/partitioned-keys.txt" 2>/dev/null
grep -qx old-pending "$work/partitioned-keys.txt" || fail "the pending row of the old day never reached Kafka"
wait_until 10 test -z "$(psql -tAqX "$dsn" -c "SELECT to_regclass('outbox_p20200102')")" ||
  fail "the day whose last row was sent is not dropped"
[[ -z $(psql -tAqX "$dsn" -c "SELECT to_regclass('outbox_p20200101')") ]] || fail "the sent day is not dropped"
scraped_is() {
  curl -sf "http://127.0.0.1:$port/metrics" >"$work/partitioned-metrics.txt" &&
    [[ $(metric "$1" "$work/partitioned-metrics.txt") == "$2" ]]
}
wait_until 5 scraped_is outbox_relay_partitions_dropped_total 2 ||
  fail "outbox_relay_partitions_dropped_total: $(grep partitions_dropped "$work/partitioned-metrics.txt")"
scraped_is outbox_relay_partitions_ahead 3 ||
  fail "outbox_relay_partitions_ahead: $(grep partitions_ahead "$work/partitioned-metrics.txt")"
pass "partitioned outbox: $committed rows at 1,000/s, all in Kafka, oldest pending row at most ${max_age} ms old; two past days dropped whole (one after its pending row was sent), 3 days ahead"
