#!/usr/bin/env bash
# End to end: proof of delivery. The real relay in relay.on_ack: mark_sent
# with the per-key sequence, pgbench writers updating the same keys with
# rollbacks and late commits, a kill -9 mid-stream; then kcat and
# `outbox-relay audit`, independently, confirm every row's recorded partition
# and offset; a tampered stream and a broker that lost its data make the
# audit name what was lost and exit 1; `outbox-relay trace` says where rows
# are. Usage: sent_trail_e2e.sh BIN_DIR
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
e2e_begin sent-trail
relay="$bin_dir/outbox-relay"

dsn=$("$root/scripts/throwaway-pg" start "$work/pg")
start_dev_broker "$bin_dir" "$work" --topic orders:4 --topic tampered:1
config="$work/relay.yaml"
write_relay_config "$config" "$dsn" "$DEV_BROKER_BOOTSTRAP"
cat >>"$config" <<'YAML'
log:
  level: info
YAML
sed -i 's/^relay:$/relay:\n  on_ack: mark_sent\n  per_key_sequence: true\n  sent_retention: 0/' "$config"
"$relay" migrate --config "$config" >"$work/migrate.log" 2>&1 || fail "migrate"
grep -q "applied options/1002_per_key_sequence.sql" "$work/migrate.log" ||
  fail "migrate did not apply the per-key sequence option: $(cat "$work/migrate.log")"

start_relay() {
  "$relay" run --config "$config" >>"$work/relay.log" 2>&1 &
  relay_pid=$!
}

# --- writers that look like an application ----------------------------------
# 4 pgbench clients, each transaction updates one of 20 accounts and writes
# its event; one transaction in five is rolled back. A psql session takes an
# id early and commits last (a late commit).
psql -qX "$dsn" -c "CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
  INSERT INTO accounts SELECT i, 0 FROM generate_series(1, 20) i;"
cat >"$work/commit.sql" <<'SQL'
\set k random(1, 20)
BEGIN;
UPDATE accounts SET balance = balance + 1 WHERE id = :k;
INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'acct-' || :k, 'deposit');
COMMIT;
SQL
cat >"$work/rollback.sql" <<'SQL'
\set k random(1, 20)
BEGIN;
UPDATE accounts SET balance = balance + 1000 WHERE id = :k;
INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'acct-' || :k, 'never');
ROLLBACK;
SQL
psql -qX "$dsn" >"$work/late.log" 2>&1 <<'SQL' &
BEGIN;
INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'late', 'committed last');
SELECT pg_sleep(4);
COMMIT;
SQL
extra_pid=$!
start_relay
pgbench -n -c 4 -j 2 -T 6 -f "$work/commit.sql@4" -f "$work/rollback.sql@1" "$dsn" \
  >"$work/pgbench.log" 2>&1 &
writers=$!
sleep 2.5
kill -9 "$relay_pid"; wait "$relay_pid" 2>/dev/null || true
pass "relay killed with -9 mid-stream ($(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL") rows marked sent so far)"
start_relay
wait "$writers" || fail "pgbench: $(cat "$work/pgbench.log")"
wait "$extra_pid"; extra_pid=""
all_sent() { [[ $(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0 ]]; }
wait_until 30 all_sent || fail "rows still pending 30 s after the writers stopped"
rows=$(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox")
(( rows > 500 )) || fail "too few rows written to prove anything ($rows)"
[[ $(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox WHERE sent_partition IS NULL OR sent_offset IS NULL") == 0 ]] ||
  fail "a sent row without its partition and offset"
pass "$rows rows committed (late commit and rollbacks mixed in), every one marked sent with a partition and offset"

# --- the per-key sequence: 1..n per key, no holes, in id order ---------------
holes=$(psql -tAqX "$dsn" -c "SELECT count(*) FROM (SELECT key_seq, row_number() OVER (PARTITION BY key ORDER BY id) n FROM outbox) s WHERE key_seq <> n")
[[ $holes == 0 ]] || fail "$holes rows break their key's sequence 1..n"
[[ $(psql -tAqX "$dsn" -c "SELECT sum(balance) FROM accounts") == $((rows - 1)) ]] ||
  fail "the accounts do not add up to the committed events"
pass "per-key outbox-seq is 1..n without holes on every key, rollbacks included"

# --- kcat, independently: each recorded offset holds its row -----------------
kcat -C -b "$DEV_BROKER_BOOTSTRAP" -t orders -e -q -f '%p %o %h\n' >"$work/kcat.txt" 2>"$work/kcat.log" ||
  fail "kcat"
# "p o outbox-id=N,outbox-seq=M" -> "N p o"
sed -n 's/^\([0-9]*\) \([0-9]*\) .*outbox-id=\([0-9]*\).*/\3 \1 \2/p' "$work/kcat.txt" | sort >"$work/kafka-positions.txt"
psql -tAqX "$dsn" -F ' ' -c "SELECT id, sent_partition, sent_offset FROM outbox" | sort >"$work/db-positions.txt"
missing=$(comm -23 "$work/db-positions.txt" "$work/kafka-positions.txt" | wc -l)
[[ $missing == 0 ]] || fail "$missing rows are not at their recorded offset: $(comm -23 "$work/db-positions.txt" "$work/kafka-positions.txt" | head -3)"
messages=$(wc -l <"$work/kafka-positions.txt")
unique=$(cut -d' ' -f1 "$work/kafka-positions.txt" | sort -u | wc -l)
[[ $unique == "$rows" ]] || fail "kcat saw $unique distinct outbox-ids for $rows rows"
duplicates=$((messages - unique))
pass "kcat finds every row at its recorded partition and offset ($messages messages, $duplicates duplicates from the kill)"

# --- the audit agrees, and exits 0 ------------------------------------------
expect_exit 0 "$work/audit.json" "$relay" audit --config "$config" --topic orders --json
audit_field() { python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['topics'][0]; print(eval(sys.argv[2]))" "$work/audit.json" "$1"; }
[[ $(audit_field "t['messages']") == "$messages" ]] || fail "audit messages: $(cat "$work/audit.json")"
[[ $(audit_field "t['duplicates']") == "$duplicates" ]] || fail "audit duplicates != kcat's $duplicates"
[[ $(audit_field "t['gaps']") == 0 && $(audit_field "t['reorders']") == 0 ]] || fail "audit gaps/reorders: $(cat "$work/audit.json")"
[[ $(audit_field "t['keys']") == 21 ]] || fail "audit keys: $(audit_field "t['keys']")"
[[ $(audit_field "t['sent']['found']") == "$rows" && $(audit_field "t['sent']['lost']") == 0 ]] ||
  fail "audit reconciliation: $(audit_field "t['sent']")"
expect_exit 0 "$work/audit.txt" "$relay" audit --config "$config" --topic orders --progress
grep -q "verdict: nothing lost" "$work/audit.txt" || fail "audit text: $(cat "$work/audit.txt")"
grep -q "^audit: orders partition 4 of 4: [0-9]* of [0-9]* messages" "$work/audit.txt" ||
  fail "audit --progress printed no progress: $(cat "$work/audit.txt")"
pass "audit: $messages messages, $duplicates duplicates (as kcat counts), 0 gaps, $rows of $rows sent rows at their offsets; exit 0"

expect_exit 0 "$work/status.txt" "$relay" status --config "$config"
grep -q "^pending:       0" "$work/status.txt" && grep -q "^sent, kept:    $rows (" "$work/status.txt" ||
  fail "status does not show the sent rows: $(cat "$work/status.txt")"

# --- trace ------------------------------------------------------------------
late_id=$(psql -tAqX "$dsn" -c "SELECT id FROM outbox WHERE key = 'late'")
expect_exit 0 "$work/trace.json" "$relay" trace "$late_id" --config "$config" --json
python3 - "$work/trace.json" "$work/kafka-positions.txt" "$late_id" <<'PY' || fail "trace: $(cat "$work/trace.json")"
import json, sys
row = json.load(open(sys.argv[1]))
positions = {tuple(l.split()) for l in open(sys.argv[2])}
assert row["state"] == "sent", row
assert (sys.argv[3], str(row["partition"]), str(row["offset"])) in positions, row
assert row["outbox_seq"] == 1 and row["key"] == "late", row
PY
expect_exit 0 "$work/trace-key.txt" "$relay" trace --key acct-3 --limit 2 --config "$config"
[[ $(grep -c "^row [0-9]*: sent at .* to partition [0-3], offset [0-9]*$" "$work/trace-key.txt") == 2 ]] ||
  fail "trace --key: $(cat "$work/trace-key.txt")"
expect_exit 0 "$work/trace-gone.txt" "$relay" trace 999999999 --config "$config"
grep -q "no such row: ids handed out so far go up to" "$work/trace-gone.txt" || fail "trace of an unused id"
pass "trace: the late row is sent at the partition and offset kcat read; by key; an id never handed out"

# --- a gap made on purpose: one message removed from a copy of the stream ----
for seq in 1 2 4 5; do
  echo "payload-$seq" | kcat -P -b "$DEV_BROKER_BOOTSTRAP" -t tampered -k acct-x \
    -H "outbox-id=$((900000 + seq))" -H "outbox-seq=$seq"
done
expect_exit 1 "$work/audit-gap.txt" "$relay" audit --config "$config" --topic tampered
grep -q 'gap: key "acct-x": outbox-seq 3 never arrived (last seen 5)' "$work/audit-gap.txt" ||
  fail "the gap is not named: $(cat "$work/audit-gap.txt")"
grep -q "verdict: LOST" "$work/audit-gap.txt" || fail "no LOST verdict"
pass "a message removed from the stream: the audit names key acct-x's outbox-seq 3 and exits 1"

# --- the broker loses acknowledged data (the dev broker keeps it in memory) --
kill "$relay_pid"; wait "$relay_pid" || true; relay_pid=""
stop_dev_broker
start_dev_broker "$bin_dir" "$work/broker2" --topic orders:4
sed -i "s|bootstrap_servers: .*|bootstrap_servers: \"$DEV_BROKER_BOOTSTRAP\"|" "$config"
psql -qX "$dsn" -c "INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'after', 'x')"
start_relay
after_sent() { [[ $(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0 ]]; }
wait_until 20 after_sent || fail "the row written after the broker restart was not sent"
expect_exit 1 "$work/audit-lost.json" "$relay" audit --config "$config" --topic orders --json
python3 - "$work/audit-lost.json" "$rows" <<'PY' || fail "lost data not reported: $(head -c 2000 "$work/audit-lost.json")"
import json, sys
t = json.load(open(sys.argv[1]))["topics"][0]
rows = int(sys.argv[2])
assert t["complete"] and t["lost"], t
assert t["sent"]["lost"] == rows and t["sent"]["found"] == 1, t["sent"]
assert t["examples"]["lost"] and t["examples"]["lost"][0].startswith("row "), t["examples"]
PY
pass "after the broker lost its data: the audit names the $rows lost rows (e.g. $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['topics'][0]['examples']['lost'][0])" "$work/audit-lost.json")) and exits 1"
