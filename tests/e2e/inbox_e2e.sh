#!/usr/bin/env bash
# End to end: the whole loop exactly once. pgbench writers place orders
# (order row + outbox row in one transaction; the same 20 customers updated
# concurrently; one transaction in five rolled back), the relay publishes
# them (killed with -9 once), the balance service (outbox::inbox) applies
# them to its own database while it is killed with -9 at random moments,
# and kcat puts copies of already-delivered messages back on the broker.
# In the end the balances add up to the orders exactly, and the duplicates
# the inbox dropped are printed. The service alternates between one message
# per transaction and batches of 50. Usage: inbox_e2e.sh BIN_DIR
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
e2e_begin inbox
relay="$bin_dir/outbox-relay"
service="$bin_dir/../consumer/outbox-balance-service"
[[ -x "$service" ]] || fail "no $service (build the outbox-balance-service target)"

dsn=$("$root/scripts/throwaway-pg" start "$work/pg")
start_dev_broker "$bin_dir" "$work" --topic orders:4
config="$work/relay.yaml"
write_relay_config "$config" "$dsn" "$DEV_BROKER_BOOTSTRAP"
sed -i 's/^relay:$/relay:\n  per_key_sequence: true/' "$config"
"$relay" migrate --config "$config" >"$work/migrate.log" 2>&1 || fail "migrate"
psql -qX -v ON_ERROR_STOP=1 "$dsn" -f "$root/deploy/demo/orders.sql"
# The balance service's own database (another service's, in production).
psql -qX "$dsn" -c "CREATE DATABASE balances"
balances_dsn="${dsn/dbname=postgres/dbname=balances}"

start_relay() {
  "$relay" run --config "$config" >>"$work/relay.log" 2>&1 &
  relay_pid=$!
}

# --- writers that look like an application ----------------------------------
cat >"$work/order.sql" <<'SQL'
\set c random(1, 20)
\set amount random(100, 50000)
WITH o AS (
  INSERT INTO orders (customer, amount_cents) VALUES ('customer-' || :c, :amount)
  RETURNING id, customer, amount_cents)
INSERT INTO outbox (topic, key, payload, headers)
SELECT 'orders', customer,
       convert_to(json_build_object('order_id', id, 'customer', customer,
                                    'amount_cents', amount_cents)::text, 'UTF8'),
       jsonb_build_object('event-type', 'OrderPlaced')
FROM o;
SQL
cat >"$work/rollback.sql" <<'SQL'
\set c random(1, 20)
BEGIN;
WITH o AS (
  INSERT INTO orders (customer, amount_cents) VALUES ('customer-' || :c, 999999)
  RETURNING id, customer, amount_cents)
INSERT INTO outbox (topic, key, payload)
SELECT 'orders', customer, convert_to(json_build_object('order_id', id, 'customer', customer,
                                      'amount_cents', amount_cents)::text, 'UTF8')
FROM o;
ROLLBACK;
SQL

start_relay
# 4 clients for SECONDS, about 250 transactions a second.
write_orders() {
  pgbench -n -c 4 -j 2 -T "$1" -R 250 -f "$work/order.sql@4" -f "$work/rollback.sql@1" "$dsn" \
    >>"$work/pgbench.log" 2>&1
}

# --- the balance service, killed with -9 at random moments --------------------
run=0
# Odd runs apply one message per transaction, even runs up to 50 (a
# savepoint each): kill -9 lands in both.
start_service() {
  run=$((run + 1))
  "$service" --dsn "$balances_dsn" --bootstrap "$DEV_BROKER_BOOTSTRAP" \
    --batch $(( run % 2 == 0 ? 50 : 1 )) >"$work/service.$run.log" 2>&1 &
  extra_pid=$!
}
applied() { inbox_applied "$balances_dsn" balance-service; }
# Each run is killed at a random moment after it has started applying (a
# run only gets partitions once the killed one's session timed out, 6 s).
kills=0
for round in 1 2 3 4 5 6; do
  before=$(applied)
  write_orders 4 &
  writers=$!
  if [[ $round == 2 ]]; then
    sleep 1.5
    kill -9 "$relay_pid"; wait "$relay_pid" 2>/dev/null || true
    pass "relay killed with -9 while the writers write"
    start_relay
  fi
  start_service
  progressed() { (( $(applied) > before )); }
  wait_until 30 progressed || fail "run $run applied nothing in 30 s"
  sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", rand() * 1.5 }')"
  kill -9 "$extra_pid"; wait "$extra_pid" 2>/dev/null || true
  extra_pid="" kills=$((kills + 1))
  wait "$writers" || fail "pgbench: $(tail -5 "$work/pgbench.log")"
done
pass "balance service killed with -9 $kills times, each at a random moment while applying ($(applied) applied so far)"
start_service
write_orders 3 || fail "pgbench: $(tail -5 "$work/pgbench.log")"
outbox_empty() { [[ $(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox") == 0 ]]; }
wait_until 60 outbox_empty || fail "the relay did not drain the outbox"
orders=$(psql -tAqX "$dsn" -c "SELECT count(*) FROM orders")
(( orders > 1000 )) || fail "too few orders to prove anything ($orders)"

# --- copies of delivered messages back on the broker -------------------------
# Read 25 messages with their headers and produce them again, as a relay
# whose acks were lost would have.
kcat -b "$DEV_BROKER_BOOTSTRAP" -C -t orders -o beginning -c 25 -e -q \
  -f '%k\t%h\t%s\n' >"$work/copies.tsv"
copies=0
while IFS=$'\t' read -r key headers payload; do
  args=()
  IFS=',' read -ra pairs <<<"$headers"
  for pair in "${pairs[@]}"; do args+=(-H "$pair"); done
  printf '%s' "$payload" | kcat -b "$DEV_BROKER_BOOTSTRAP" -P -t orders -k "$key" "${args[@]}"
  copies=$((copies + 1))
done <"$work/copies.tsv"
(( copies == 25 )) || fail "read $copies messages to copy, wanted 25"
pass "$copies delivered messages produced again with kcat"

all_applied() { [[ $(applied) == "$orders" ]]; }
wait_until 60 all_applied || fail "applied $(applied) of $orders orders"
# The copies come after the last order: once they are dropped, all is in.
dropped() { cat "$work"/service.*.log | grep -c 'msg="duplicate dropped"' || true; }
copies_dropped() { (( $(grep -c 'msg="duplicate dropped"' "$work/service.$run.log" || true) >= copies )); }
wait_until 30 copies_dropped || fail "the copies were not all dropped: $(dropped) duplicates logged"
kill -TERM "$extra_pid"; wait "$extra_pid" || fail "balance service exit: $(tail -3 "$work/service.$run.log")"
extra_pid=""

order_sum=$(psql -tAqX "$dsn" -c "SELECT sum(amount_cents) FROM orders")
balance_sum=$(psql -tAqX "$balances_dsn" -c "SELECT sum(balance_cents) FROM balances")
balance_orders=$(psql -tAqX "$balances_dsn" -c "SELECT sum(orders) FROM balances")
per_customer=$(psql -tAqX "$dsn" -c "SELECT string_agg(customer || '=' || s, ',' ORDER BY customer) FROM (SELECT customer, sum(amount_cents) s FROM orders GROUP BY 1) t")
per_balance=$(psql -tAqX "$balances_dsn" -c "SELECT string_agg(customer || '=' || balance_cents, ',' ORDER BY customer) FROM balances")
dead=$(psql -tAqX "$balances_dsn" -c "SELECT count(*) FROM inbox_dead_letter")
echo "   orders: $orders, sum $order_sum cents; balances: $balance_orders orders, sum $balance_sum cents"
echo "   duplicates dropped by the inbox: $(dropped) ($copies copied with kcat, the rest redelivered after the kills)"
[[ "$order_sum" == "$balance_sum" ]] || fail "sum of balances $balance_sum != sum of orders $order_sum"
[[ "$balance_orders" == "$orders" ]] || fail "balances count $balance_orders orders, there are $orders"
[[ "$per_customer" == "$per_balance" ]] || fail "per customer: orders $per_customer, balances $per_balance"
[[ "$dead" == 0 ]] || fail "$dead dead letters"
(( $(dropped) >= copies )) || fail "only $(dropped) duplicates dropped, $copies were copied"
! grep -h 'msg="sequence gap"\|msg="sequence reorder"' "$work"/service.*.log ||
  fail "the inbox saw a break in a key's outbox-seq"
pass "sum of balances = sum of orders ($order_sum cents over $orders orders, per customer too), no gaps, no dead letters"
