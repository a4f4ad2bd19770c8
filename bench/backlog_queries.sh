#!/usr/bin/env bash
# How long the relay's per-poll and per-refresh queries take with a big
# backlog: the batch read, and the backlog gauges (pending, oldest age,
# oldest open transaction). Prints a table of milliseconds (median of 5).
#   bench/backlog_queries.sh [ROWS [BIN_DIR]]   (default 10,000,000 rows, build/release)
# The batch read is the relay's own statement (outbox-bench explain), run
# as the relay runs it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-10000000}
bench_bin=${2:-$root/build/release}/bench/outbox-bench
[[ -x "$bench_bin" ]] || { echo "$bench_bin not found (cmake --build --preset release)" >&2; exit 1; }
work=$(mktemp -d /tmp/outbox-bench.XXXXXX)
chmod 755 "$work"
trap '"$root/scripts/throwaway-pg" stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
dsn=$("$root/scripts/throwaway-pg" start "$work/pg")
for f in "$root"/schema/*.sql; do psql -qX -v ON_ERROR_STOP=1 -1 "$dsn" -f "$f"; done

echo "filling the outbox with $rows rows ..."
started=$SECONDS
psql -qX "$dsn" -c "INSERT INTO outbox (topic, key, payload, headers)
  SELECT 'orders', 'key-' || (i % 10000), convert_to(repeat('x', 200), 'UTF8'), '{\"t\": \"v\"}'
  FROM generate_series(1, $rows) i"
psql -qX "$dsn" -c "VACUUM ANALYZE outbox"
echo "filled in $((SECONDS - started)) s"

# time_query NAME SQL: median of 5 runs, server-side execution time.
time_query() {
  local times=()
  for run in 1 2 3 4 5; do
    local sql=${2//@RUN@/$((run * 1000))}  # a fresh id range per run for the delete
    times+=("$(psql -qAtX "$dsn" -c "EXPLAIN (ANALYZE, FORMAT JSON) $sql" |
      grep -o '"Execution Time": [0-9.]*' | awk '{print $3}')")
  done
  printf '%-38s %8s ms\n' "$1" "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)"
}

echo
printf '%-38s %11s\n' "query ($rows pending rows)" "median"
# median of 5 server-side execution times of the relay's batch read
read_times=()
for run in 1 2 3 4 5; do
  read_times+=("$("$bench_bin" explain --dsn "$dsn" | sed -n 's/.*Execution Time: \([0-9.]*\) ms/\1/p')")
done
printf '%-38s %8s ms\n' "read batch (500 rows, due only)" "$(printf '%s\n' "${read_times[@]}" | sort -n | sed -n 3p)"
time_query "pending (bounded count to 10001)" "SELECT count(*) FROM (SELECT 1 FROM outbox LIMIT 10001) b"
time_query "pending estimate (n_live_tup)" "SELECT n_live_tup FROM pg_stat_user_tables WHERE relid = 'outbox'::regclass"
time_query "oldest pending age" "SELECT extract(epoch FROM clock_timestamp() - coalesce(CASE WHEN current_setting('track_commit_timestamp') = 'on' THEN pg_xact_commit_timestamp(xmin) END, created_at))::float8 FROM outbox ORDER BY id LIMIT 1"
time_query "oldest open write transaction" "SELECT extract(epoch FROM clock_timestamp() - min(xact_start))::float8 FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
time_query "remove 500 acknowledged rows" "DELETE FROM outbox WHERE id = ANY(ARRAY(SELECT generate_series(@RUN@, @RUN@ + 499)::bigint))"
echo
echo "plan of the batch read (the relay's statement, nothing in flight):"
"$bench_bin" explain --dsn "$dsn"
