#!/usr/bin/env bash
# The relay as a platform team deploys it: PostgreSQL over TLS with
# sslmode=verify-full against a private CA, password authentication (SCRAM)
# with the password from a file, and the least-privilege role of
# schema/roles/least_privilege.sql. The real binaries publish rows to
# outbox-dev-broker; wrong CA, wrong host name and wrong password are refused.
# Usage: secure_e2e.sh BIN_DIR
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
e2e_begin secure
relay=$bin_dir/outbox-relay

# A CA, and a server certificate it signed for "localhost" only.
make_ca() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
    -keyout "$work/$1.key" -out "$work/$1.crt" 2>/dev/null
}
make_ca outbox-test-ca
make_ca other-ca
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' >"$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/outbox-test-ca.crt" \
  -CAkey "$work/outbox-test-ca.key" -CAcreateserial -days 2 -extfile "$work/san.ext" \
  -out "$work/server.crt" 2>/dev/null

# A TCP port for the server (127.0.0.1 only).
port=$((20000 + RANDOM % 40000))
while ss -ltnH "sport = :$port" | grep -q .; do port=$((20000 + RANDOM % 40000)); done
admin_dsn=$(THROWAWAY_PG_TCP_PORT=$port "$root/scripts/throwaway-pg" start "$work/pg")
data=$work/pg/data
owner=()
[[ $(id -u) == 0 ]] && owner=(-o postgres -g postgres)  # the server runs as postgres
install "${owner[@]}" -m 600 "$work/server.key" "$data/server.key"
install "${owner[@]}" -m 644 "$work/server.crt" "$data/server.crt"
psql -qX "$admin_dsn" -c "ALTER SYSTEM SET ssl = on" -c "ALTER SYSTEM SET password_encryption = 'scram-sha-256'"
# TCP: TLS with a SCRAM password only; the local socket stays trusted for the admin.
{
  echo "local all all trust"
  echo "hostssl all all 127.0.0.1/32 scram-sha-256"
  echo "host all all 127.0.0.1/32 reject"
} >"$data/pg_hba.conf"
"$root/scripts/throwaway-pg" ctl "$work/pg" restart -m fast >/dev/null

"$relay" migrate --config <(write_relay_config /dev/stdout "$admin_dsn" "unused:9092") >/dev/null
psql -qX -v ON_ERROR_STOP=1 "$admin_dsn" -f "$root/schema/roles/least_privilege.sql"
password="pw-$RANDOM-$RANDOM-never-logged"
psql -qX "$admin_dsn" -c "CREATE ROLE relay_svc LOGIN PASSWORD '$password' IN ROLE outbox_relay"
printf '%s\n' "$password" >"$work/pg-password"
chmod 600 "$work/pg-password"

start_dev_broker "$bin_dir" "$work" --topic orders:4
# config HOST CA PASSWORD_FILE: a relay config for those.
config() {
  write_relay_config "$work/relay.yaml" \
    "host=$1 port=$port user=relay_svc dbname=postgres sslmode=verify-full sslrootcert=$work/$2.crt" \
    "$DEV_BROKER_BOOTSTRAP"
  sed -i "s|^  dsn: .*|&\n  password_file: $3|" "$work/relay.yaml"
  echo "$work/relay.yaml"
}

# Refused: a CA that did not sign the server's certificate, a host name the
# certificate does not name, a wrong password.
out=$("$relay" status --config "$(config localhost other-ca "$work/pg-password")" 2>&1) &&
  fail "status with the wrong CA succeeded"
grep -q "certificate verify failed" <<<"$out" || fail "wrong CA: $out"
pass "a server certificate from another CA is refused"
out=$("$relay" status --config "$(config 127.0.0.1 outbox-test-ca "$work/pg-password")" 2>&1) &&
  fail "status with a host name the certificate does not name succeeded"
grep -q "does not match host name" <<<"$out" || fail "wrong host name: $out"
pass "verify-full refuses a host name the certificate does not name"
echo "not-the-password" >"$work/wrong-password"
out=$("$relay" status --config "$(config localhost outbox-test-ca "$work/wrong-password")" 2>&1) &&
  fail "status with a wrong password succeeded"
grep -q "password authentication failed" <<<"$out" || fail "wrong password: $out"
pass "a wrong password from the file is refused"

# The real thing: verify-full, the password from its file, the least role.
config=$(config localhost outbox-test-ca "$work/pg-password")
"$relay" check-config --config "$config" >"$work/resolved.yaml" || fail "check-config"
grep -q "password_file: $work/pg-password" "$work/resolved.yaml" || fail "check-config: $(cat "$work/resolved.yaml")"
# (Exit 3: no relay holds the shards yet, which status reports.)
"$relay" status --config "$config" >"$work/status.txt" 2>&1 || [[ $? == 3 ]] ||
  fail "status over TLS: $(cat "$work/status.txt")"
grep -q "have no live relay" "$work/status.txt" || fail "status over TLS: $(cat "$work/status.txt")"
"$relay" run --config "$config" >"$work/relay.log" 2>&1 &
relay_pid=$!
wait_until 15 grep -q 'acquired shards' "$work/relay.log" || fail "the relay took no shards"
psql -qX "$admin_dsn" -c "INSERT INTO outbox (topic, key, payload) SELECT 'orders', 'k' || g % 7, 'p' FROM generate_series(1, 50) g"
drained() { [[ $(psql -tAqX "$admin_dsn" -c "SELECT count(*) FROM outbox") == 0 ]]; }
wait_until 20 drained || fail "rows not delivered over TLS as the least-privilege role"
pass "the relay delivers as relay_svc over verify-full TLS"
ssl=$(psql -tAqX "$admin_dsn" -c "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = 'relay_svc' AND s.ssl AND s.version LIKE 'TLS%'")
((ssl >= 2)) || fail "the relay's sessions are not all TLS ($ssl)"
plain=$(psql -tAqX "$admin_dsn" -c "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = 'relay_svc' AND NOT s.ssl")
((plain == 0)) || fail "$plain relay sessions without TLS"
pass "all $ssl relay sessions use TLS"
kill -TERM "$relay_pid"
wait "$relay_pid" || fail "the relay did not stop cleanly"
relay_pid=""
for file in "$work"/*.log "$work/resolved.yaml" "$work/status.txt"; do
  ! grep -q "$password" "$file" || fail "the password appears in $(basename "$file")"
done
pass "the password appears in no log, check-config or status output"
