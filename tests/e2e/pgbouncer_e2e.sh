#!/usr/bin/env bash
# The relay behind a real transaction-pooling PgBouncer (Debian's), with a
# pool of two server connections shared by the relay's sessions and the
# application's writers: migrate, relay and write all go through it. Before,
# prepared statements vanished between transactions (SQLSTATE 26000) and
# delivery stalled. Usage: pgbouncer_e2e.sh BIN_DIR
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
e2e_begin pgbouncer
command -v pgbouncer >/dev/null || [[ -x /usr/sbin/pgbouncer ]] ||
  fail "pgbouncer is not installed (scripts/install-deps installs it)"
pgbouncer_bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

dsn=$("$root/scripts/throwaway-pg" start "$work/pg")
socket_dir=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$dsn")
pg_port=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$dsn")
bouncer_port=$((20000 + RANDOM % 20000))
cat >"$work/pgbouncer.ini" <<INI
[databases]
postgres = host=$socket_dir port=$pg_port dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
INI
echo '"postgres" ""' >"$work/userlist.txt"
chmod 644 "$work/pgbouncer.ini" "$work/userlist.txt"
chown postgres "$work" 2>/dev/null || true
# PgBouncer refuses to run as root.
runuser -u postgres -- "$pgbouncer_bin" -d "$work/pgbouncer.ini"
extra_pid=""
trap 'kill "$(cat "$work/pgbouncer.pid" 2>/dev/null)" 2>/dev/null || true; e2e_cleanup' EXIT
bounced="host=127.0.0.1 port=$bouncer_port user=postgres dbname=postgres"
wait_until 10 psql -tAq "$bounced" -c "SELECT 1" || fail "pgbouncer did not start"

start_dev_broker "$bin_dir" "$work" --topic orders:4
relay="$bin_dir/outbox-relay"
config="$work/relay.yaml"
write_relay_config "$config" "$bounced" "$DEV_BROKER_BOOTSTRAP"
"$relay" migrate --config "$config" >"$work/migrate.log" 2>&1 || fail "migrate through pgbouncer"
"$relay" migrate --config "$config" >>"$work/migrate.log" 2>&1 ||
  fail "a second migrate through pgbouncer (a session lock left on a server connection?)"
grep -q "schema is up to date" "$work/migrate.log" || fail "the second migrate did not find the schema"

"$relay" run --config "$config" >"$work/relay.log" 2>&1 &
relay_pid=$!
wait_until 15 grep -q 'msg="relay started"' "$work/relay.log" || fail "relay did not start"
# Four application connections through the same pool, 75 rows each, each
# row in its own transaction.
writers=()
for w in 1 2 3 4; do
  (for i in $(seq 1 75); do
    echo "INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'k-$((i % 10))', 'w$w-$i');"
  done | psql -q -v ON_ERROR_STOP=1 "$bounced" >/dev/null) &
  writers+=($!)
done
for pid in "${writers[@]}"; do wait "$pid" || fail "a writer failed through pgbouncer"; done
outbox_empty() { [[ $(psql -tAq "$dsn" -c 'SELECT count(*) FROM outbox') == 0 ]]; }
wait_until 30 outbox_empty ||
  fail "$(psql -tAq "$dsn" -c 'SELECT count(*) FROM outbox') of 300 rows still pending 30 s after the writers stopped"
kcat -C -b "$DEV_BROKER_BOOTSTRAP" -t orders -o beginning -e -q -f '%s\n' >"$work/read.txt" 2>/dev/null ||
  fail "kcat could not read the topic"
[[ $(sort -u "$work/read.txt" | wc -l) == 300 ]] || fail "kcat read $(sort -u "$work/read.txt" | wc -l) of 300"
grep -q "a connection pooler is between the relay and PostgreSQL" "$work/relay.log" ||
  fail "the relay did not notice the pooler"
! grep -q "does not exist" "$work/relay.log" || fail "statements vanished: $(grep -m1 'does not exist' "$work/relay.log")"
kill -TERM "$relay_pid"
wait "$relay_pid" || fail "the relay did not stop cleanly"
relay_pid=""
pass "behind a transaction-pooling PgBouncer (pool of 2): migrate twice, 300 rows from 4 writers delivered, no statement lost"
