#!/usr/bin/env bash
# What keeping sent rows (relay.on_ack: mark_sent) and the per-key sequence
# cost. Prints two tables, measured in one run on one throwaway PostgreSQL
# (fsync on):
#   1. the relay's per-poll statements with 10,000 pending rows, next to the
#      same with SENT_ROWS sent rows kept (median of 5 server-side times);
#   2. writers' commits/s with and without the per-key sequence trigger, for
#      one hot key and for 10,000 keys (pgbench, 4 clients, each transaction
#      one outbox insert).
#   bench/sent_trail.sh [SENT_ROWS [SECONDS [BIN_DIR]]]
#   (default 10,000,000 sent rows, 10 s per pgbench run, build/release)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sent_rows=${1:-10000000}
seconds=${2:-10}
bench_bin=${3:-$root/build/release}/bench/outbox-bench
[[ -x "$bench_bin" ]] || { echo "$bench_bin not found (cmake --build --preset release)" >&2; exit 1; }
work=$(mktemp -d /tmp/outbox-sent-bench.XXXXXX)
chmod 755 "$work"
trap '"$root/scripts/throwaway-pg" stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
server=$(THROWAWAY_PG_FSYNC=on "$root/scripts/throwaway-pg" start "$work/pg")

# database NAME [OPTIONS...]: a database with the schema (and options).
database() {
  psql -qX "$server" -c "CREATE DATABASE $1"
  local dsn="$server dbname=$1" f
  shift
  for f in "$root"/schema/*.sql "$@"; do
    PGOPTIONS='-c client_min_messages=warning' psql -qX -v ON_ERROR_STOP=1 -1 "$dsn" -f "$f"
  done
  echo "$dsn"
}

empty=$(database pending_only)
kept=$(database sent_kept)
pending="INSERT INTO outbox (topic, key, payload) SELECT 'orders', 'key-' || (i % 10000),
  convert_to(repeat('x', 200), 'UTF8') FROM generate_series(1, 10000) i"
echo "filling: $sent_rows sent rows, then 10,000 pending ..."
started=$SECONDS
psql -qX "$kept" -c "INSERT INTO outbox (topic, key, payload, sent_at, sent_partition, sent_offset)
  SELECT 'orders', 'key-' || (i % 10000), convert_to(repeat('x', 200), 'UTF8'),
         now() - interval '1 day', i % 4, i / 4 FROM generate_series(1, $sent_rows) i"
psql -qX "$kept" -c "$pending"
psql -qX "$empty" -c "$pending"
psql -qX "$kept" -c "VACUUM ANALYZE outbox"
psql -qX "$empty" -c "VACUUM ANALYZE outbox"
echo "filled in $((SECONDS - started)) s; outbox $(psql -tAqX "$kept" -c "SELECT pg_size_pretty(pg_total_relation_size('outbox'))") with its indexes"

# median_of_5 COMMAND...: the median of five runs of COMMAND, each printing ms.
median_of_5() {
  local times=() run
  for run in 1 2 3 4 5; do times+=("$("$@")"); done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}
# statement_ms DSN SQL: its server-side execution time.
statement_ms() {
  psql -qAtX "$1" -c "EXPLAIN (ANALYZE, FORMAT JSON) $2" | grep -o '"Execution Time": [0-9.]*' | awk '{print $3}'
}
# read_ms DSN: the relay's batch read, as the relay runs it.
read_ms() { "$bench_bin" explain --dsn "$1" | sed -n 's/.*Execution Time: \([0-9.]*\) ms/\1/p'; }
row() { printf '%-44s %12s %12s\n' "$1" "$2 ms" "$3 ms"; }
# compare LABEL SQL: the statement on both databases.
compare() { row "$1" "$(median_of_5 statement_ms "$empty" "$2")" "$(median_of_5 statement_ms "$kept" "$2")"; }

echo
printf '%-44s %12s %12s\n' "statement (10,000 pending rows)" "no sent" "$sent_rows sent"
row "read batch (500 rows, the relay's statement)" "$(median_of_5 read_ms "$empty")" "$(median_of_5 read_ms "$kept")"
compare "pending (bounded count)" \
  "SELECT count(*) FROM (SELECT 1 FROM outbox WHERE sent_at IS NULL LIMIT 10001) b"
compare "oldest pending row" "SELECT created_at FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT 1"
compare "read floor probe" "SELECT min(id) FROM outbox WHERE id >= 0 AND sent_at IS NULL"
compare "mark 500 rows sent" \
  "UPDATE outbox SET sent_at = now(), sent_partition = 0, sent_offset = id WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT 500)"
compare "audit: one page of 10,000 sent rows" \
  "SELECT id, sent_partition, sent_offset FROM outbox WHERE topic = 'orders' AND sent_at IS NOT NULL AND sent_partition IS NOT NULL AND sent_offset IS NOT NULL AND (sent_partition, sent_offset) > (1, 100000) ORDER BY sent_partition, sent_offset LIMIT 10000"
compare "retention: delete 5,000 expired rows" \
  "WITH doomed AS (SELECT ctid FROM outbox WHERE sent_at < now() - interval '1 hour' LIMIT 5000 FOR UPDATE SKIP LOCKED) DELETE FROM outbox t USING doomed d WHERE t.ctid = d.ctid"
echo
echo "plan of the batch read with $sent_rows sent rows kept:"
"$bench_bin" explain --dsn "$kept" | grep -E "Index|Scan|Execution|Planning" | head -12

# --- the per-key sequence's cost to writers ------------------------------
plain=$(database writers_plain)
numbered=$(database writers_numbered "$root/schema/options/1002_per_key_sequence.sql")
tps() {  # tps DSN KEYS
  cat >"$work/insert.sql" <<SQL
\\set k random(1, $2)
INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'key-' || :k, 'event');
SQL
  pgbench -n -c 4 -j 2 -T "$seconds" -f "$work/insert.sql" "$1" 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | cut -d. -f1
}
echo
printf '%-44s %12s %12s %8s\n' "writers (4 clients, fsync on, 2 x ${seconds} s)" "no sequence" "outbox-seq" "ratio"
# Each condition twice, interleaved, so that a checkpoint or a neighbour
# on this shared machine does not land on one side only.
for keys in 1 10000; do
  a1=$(tps "$plain" "$keys"); b1=$(tps "$numbered" "$keys")
  a2=$(tps "$plain" "$keys"); b2=$(tps "$numbered" "$keys")
  a=$(((a1 + a2) / 2)) b=$(((b1 + b2) / 2))
  printf '%-44s %12s %12s %8s\n' "$keys key(s)" "$a/s" "$b/s" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')"
done
