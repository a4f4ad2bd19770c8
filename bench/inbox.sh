#!/usr/bin/env bash
# How fast outbox::inbox applies, next to the database's own limit for the
# same work, in one run on one throwaway PostgreSQL (fsync on).
#   inbox:      the balance service applying N relayed orders already on the
#               broker, one transaction per message (the default), and again
#               as another consumer with up to 50 per transaction
#               (Options::max_batch, a savepoint each).
#   bare loop:  pgbench -M prepared, 1 client (the consumer is one thread),
#               running the library's statements for one message per
#               transaction (claim the id, lock and move the key's number, the
#               balance upsert): N/2 transactions before the inbox and N/2
#               after, the mean of the two rates (this disk's flush rate moves
#               by tens of percent within minutes).
# Also the CPU the consumer's process and its database backend used.
#   bench/inbox.sh [N [BUILD_DIR]]   (default 20000 orders, build/release)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
orders=${1:-20000}
build_dir=${2:-$root/build/release}
relay_bin=$build_dir/relay/outbox-relay
service_bin=$build_dir/consumer/outbox-balance-service
for bin in "$relay_bin" "$service_bin"; do
  [[ -x "$bin" ]] || { echo "$bin not found (cmake --build --preset release)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/outbox-inbox-bench.XXXXXX)
chmod 755 "$work"
relay_pid="" service_pid=""
cleanup() {
  for pid in "$relay_pid" "$service_pid"; do
    [[ -n "$pid" ]] && { kill "$pid"; wait "$pid"; } 2>/dev/null
  done
  stop_dev_broker
  "$root/scripts/throwaway-pg" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

dsn=$(THROWAWAY_PG_FSYNC=on "$root/scripts/throwaway-pg" start "$work/pg")
start_dev_broker "$build_dir/relay" "$work/broker" --topic orders:4
config="$work/relay.yaml"
write_relay_config "$config" "$dsn" "$DEV_BROKER_BOOTSTRAP"
sed -i 's/^relay:$/relay:\n  per_key_sequence: true/' "$config"
"$relay_bin" migrate --config "$config" >/dev/null
psql -qX -v ON_ERROR_STOP=1 "$dsn" -f "$root/deploy/demo/orders.sql"
psql -qX "$dsn" -c "CREATE DATABASE balances"
balances_dsn="${dsn/dbname=postgres/dbname=balances}"

echo "== $orders orders over 200 customers, relayed to the broker"
psql -qX -v ON_ERROR_STOP=1 "$dsn" <<SQL
WITH o AS (
  INSERT INTO orders (customer, amount_cents)
  SELECT 'customer-' || (i % 200), 100 + (i * 7919) % 50000 FROM generate_series(1, $orders) i
  RETURNING id, customer, amount_cents)
INSERT INTO outbox (topic, key, payload)
SELECT 'orders', customer, convert_to(json_build_object('order_id', id, 'customer', customer,
                                      'amount_cents', amount_cents)::text, 'UTF8')
FROM o ORDER BY id;
SQL
"$relay_bin" run --config "$config" >"$work/relay.log" 2>&1 &
relay_pid=$!
outbox_empty() { [[ $(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox") == 0 ]]; }
wait_until 120 outbox_empty || { echo "the relay did not drain" >&2; exit 1; }
kill "$relay_pid"; wait "$relay_pid" || true
relay_pid=""

backend_cpu() {  # CPU seconds of the backends of database balances
  local total=0 pid
  for pid in $(psql -tAqX "$dsn" -c "SELECT pid FROM pg_stat_activity WHERE datname = 'balances' AND pid <> pg_backend_pid()"); do
    total=$(awk -v a="$total" -v b="$(proc_cpu "$pid" 2>/dev/null || echo 0)" 'BEGIN { print a + b }')
  done
  echo "$total"
}
consumer="balance-service"
applied() { inbox_applied "$balances_dsn" "$consumer"; }

# The bare loop: prints its rate (transactions per second).
cat >"$work/bare.sql" <<'SQL'
\set id random(1, 1000000000)
\set c random(0, 199)
BEGIN;
INSERT INTO inbox (consumer, outbox_id, topic, "partition", "offset", outcome)
VALUES ('bare', :id, 'orders', 0, :id, 'applied') ON CONFLICT DO NOTHING;
SELECT last_seq FROM inbox_key_seq WHERE consumer = 'bare' AND key = convert_to('customer-' || :c, 'UTF8') FOR UPDATE;
INSERT INTO inbox_key_seq AS s (consumer, key, last_seq) VALUES ('bare', convert_to('customer-' || :c, 'UTF8'), 1)
ON CONFLICT (consumer, key) DO UPDATE SET last_seq = s.last_seq + 1, updated_at = now();
INSERT INTO balances AS b (customer, balance_cents, orders) VALUES ('bare-' || :c, 100, 1)
ON CONFLICT (customer) DO UPDATE SET balance_cents = b.balance_cents + EXCLUDED.balance_cents, orders = b.orders + 1;
COMMIT;
SQL
bare_loop() {
  pgbench -n -M prepared -c 1 -t "$((orders / 2))" -f "$work/bare.sql" "$balances_dsn" \
    >"$work/bare.log" 2>&1 || { cat "$work/bare.log" >&2; exit 1; }
  sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/bare.log" | head -n 1
}

echo "== bare loop (before): the same statements per transaction, pgbench 1 client"
# The service creates the tables; the bare loop needs them first.
"$service_bin" --dsn "$balances_dsn" --bootstrap 127.0.0.1:1 --topic none >"$work/schema.log" 2>&1 &
schema_pid=$!
tables_there() { psql -tAqX "$balances_dsn" -c "SELECT to_regclass('balances') IS NOT NULL AND to_regclass('inbox_key_seq') IS NOT NULL" | grep -q t; }
wait_until 30 tables_there || { cat "$work/schema.log" >&2; exit 1; }
kill "$schema_pid"; wait "$schema_pid" || true
bare_before=$(bare_loop)

# measure_inbox NAME BATCH: the service, as consumer NAME (its own group,
# so it reads the topic from the start), applies every order; sets rate,
# process_cpu and backend_cpu_s.
measure_inbox() {
  consumer=$1
  echo "== inbox: outbox-balance-service --name $1 --batch $2 applying them"
  "$service_bin" --dsn "$balances_dsn" --bootstrap "$DEV_BROKER_BOOTSTRAP" --name "$1" \
    --batch "$2" >"$work/service-$1.log" 2>&1 &
  service_pid=$!
  started() { (( $(applied) > 0 )); }
  wait_until 60 started || { echo "the service applied nothing" >&2; tail "$work/service-$1.log" >&2; exit 1; }
  # From its first applied message (the group join is not the library's speed).
  local from_count from_time to_time
  from_count=$(applied) from_time=$(date +%s.%N)
  done_applying() { [[ $(applied) == "$orders" ]]; }
  wait_until 600 done_applying || { echo "applied $(applied) of $orders" >&2; exit 1; }
  to_time=$(date +%s.%N)
  process_cpu=$(proc_cpu "$service_pid")
  backend_cpu_s=$(backend_cpu)
  kill "$service_pid"; wait "$service_pid" || true
  service_pid=""
  rate=$(awk -v n="$((orders - from_count))" -v a="$from_time" -v b="$to_time" 'BEGIN { printf "%.0f", n / (b - a) }')
}
measure_inbox balance-service 1
inbox_rate=$rate service_cpu=$process_cpu service_backend_cpu=$backend_cpu_s
measure_inbox balance-batched 50
batch_rate=$rate batch_cpu=$process_cpu batch_backend_cpu=$backend_cpu_s
echo "== bare loop (after)"
bare_after=$(bare_loop)
bare_rate=$(awk -v a="$bare_before" -v b="$bare_after" 'BEGIN { print (a + b) / 2 }')
# Two consumers applied every order to the same balances.
sums=$(psql -tAqX "$dsn" -c "SELECT 2 * sum(amount_cents) FROM orders")/$(psql -tAqX "$balances_dsn" -c "SELECT sum(balance_cents) FROM balances WHERE customer NOT LIKE 'bare-%'")

echo
printf '%-34s %12s\n' "" "msg/s"
printf '%-34s %12s\n' "inbox, 1 message per transaction" "$inbox_rate"
printf '%-34s %12s\n' "inbox, up to 50 per transaction" "$batch_rate"
printf '%-34s %12.0f   (before %.0f, after %.0f)\n' "bare loop (same SQL, 1 client)" "$bare_rate" "$bare_before" "$bare_after"
awk -v a="$inbox_rate" -v b="$bare_rate" 'BEGIN { printf "%-34s %12.2f\n", "inbox (1 per tx) / bare loop", a / b }'
awk -v a="$batch_rate" -v b="$inbox_rate" 'BEGIN { printf "%-34s %12.2f\n", "inbox (50 per tx) / inbox (1)", a / b }'
awk -v n="$orders" -v c="$service_cpu" -v d="$service_backend_cpu" -v e="$batch_cpu" -v f="$batch_backend_cpu" 'BEGIN {
  printf "CPU per 1,000 messages, consumer process / its database backend: 1 per tx %.0f / %.0f ms, 50 per tx %.0f / %.0f ms\n", c * 1000000 / n, d * 1000000 / n, e * 1000000 / n, f * 1000000 / n }'
echo "sum of orders / sum of balances: $sums"
[[ "${sums%/*}" == "${sums#*/}" ]] || { echo "the sums differ" >&2; exit 1; }
