#!/usr/bin/env bash
# FAULTS.md F20: every command and every error path, run with a known
# password (in a URI DSN, a keyword DSN, a malformed escape, an unterminated
# ${, sslpassword, a password file, PGPASSWORD and a librdkafka secret). The
# password must appear in no output, log line or metric.
# Usage: secret_scan.sh BIN_DIR
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
e2e_begin secrets

relay="$bin_dir/outbox-relay"
secret="Pw$RANDOM$RANDOM-s3cr3t"
dsn=$("$root/scripts/throwaway-pg" start "$work/pg")
start_dev_broker "$bin_dir" "$work" --topic orders:4
socket_dir=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$dsn")
port=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$dsn")
encoded_socket=$(sed 's|/|%2F|g' <<<"$socket_dir")
outputs="$work/outputs"
mkdir "$outputs"
cases=0

# config NAME DSN [POSTGRES_KEY [KAFKA_PROPERTIES]]: a config file with this
# DSN, another postgres key and extra librdkafka properties.
config() {
  cat >"$work/$1.yaml" <<YAML
postgres:
  dsn: "$2"
  ${3:-}
kafka:
  bootstrap_servers: "$DEV_BROKER_BOOTSTRAP"
  properties: { linger.ms: "5", message.timeout.ms: "3000" ${4:-} }
relay: { poll_interval_ms: 50, drain_timeout_ms: 2000 }
metrics: { listen: "127.0.0.1:0", refresh_interval_ms: 200 }
YAML
}

# each_command NAME: every command on config NAME, output kept per command.
each_command() {
  local name=$1 c
  for c in check-config migrate status "dead-letters list" "dead-letters show 1 --json"; do
    # shellcheck disable=SC2086
    timeout 30 "$relay" $c --config "$work/$name.yaml" >"$outputs/$name.${c// /_}.out" 2>&1 || true
    cases=$((cases + 1))
  done
  # The daemon: up for a few seconds (it may only back off), scraped, stopped.
  timeout 30 "$relay" run --config "$work/$name.yaml" >"$outputs/$name.run.out" 2>&1 &
  local pid=$!
  local port_seen=""
  for _ in $(seq 1 25); do
    port_seen=$(metrics_port "$outputs/$name.run.out")
    [[ -n "$port_seen" ]] && break
    sleep 0.2
  done
  if [[ -n "$port_seen" ]]; then
    sleep 1
    curl -s "http://127.0.0.1:$port_seen/metrics" >"$outputs/$name.metrics.out" || true
    curl -s "http://127.0.0.1:$port_seen/readyz" >"$outputs/$name.readyz.out" || true
  else
    sleep 2
  fi
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  cases=$((cases + 1))
}

# A working database (it trusts local connections: the password is carried
# but unused), in both DSN forms; a row is relayed so every path runs.
config uri "postgresql://postgres:$secret@$encoded_socket:$port/postgres"
config keyword "host=$socket_dir port=$port user=postgres dbname=postgres password=$secret"
"$relay" migrate --config "$work/uri.yaml" >/dev/null 2>&1 || fail "migrate on the working DSN"
psql -q "$dsn" -c "INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'k', 'v')"
psql -q "$dsn" -c "INSERT INTO outbox_dead_letter (id, topic, key, payload, created_at, reason,
  error, attempts, first_failed_at, last_failed_at) VALUES (1, 'orders', 'k', '\xff00'::bytea,
  now(), 'invalid_record', 'x', 1, now(), now())"
each_command uri
each_command keyword
# libpq quotes the fragment of a malformed escape in its error.
config bad_escape "postgresql://postgres:$secret%zz@$encoded_socket:$port/postgres"
each_command bad_escape
# An unterminated ${ once echoed the whole value.
config unterminated "postgresql://postgres:$secret@$encoded_socket:$port/\${DB"
each_command unterminated
# sslpassword was printed as it was by check-config.
config sslpassword "host=$socket_dir port=$port user=postgres dbname=postgres sslpassword=$secret"
each_command sslpassword
# A server that is not there: connection errors on every path.
printf '%s\n' "$secret" >"$work/pg-password"
config gone "host=127.0.0.1 port=1 user=relay dbname=app" "password_file: $work/pg-password"
each_command gone
config gone_keyword "host=127.0.0.1 port=1 user=relay dbname=app password=$secret"
each_command gone_keyword
PGPASSWORD=$secret each_command gone_keyword
# A librdkafka secret, with a broker that cannot authenticate it.
config kafka_secret "$dsn" "" ", security.protocol: sasl_plaintext, sasl.mechanism: PLAIN,
    sasl.username: relay, sasl.password: \"$secret\""
each_command kafka_secret

leaks=$(grep -l -- "$secret" "$outputs"/* || true)
[[ -z "$leaks" ]] || {
  for f in $leaks; do echo "--- $(basename "$f")" >&2; grep -- "$secret" "$f" | head -n 3 >&2; done
  fail "the password appeared in: $(basename -a $leaks | tr '\n' ' ')"
}
grep -q "postgres.dsn: not a valid libpq connection string" "$outputs/bad_escape.check-config.out" ||
  fail "a malformed DSN must be a config error: $(cat "$outputs/bad_escape.check-config.out")"
grep -q "unterminated \${" "$outputs/unterminated.check-config.out" ||
  fail "an unterminated \${ must be reported: $(cat "$outputs/unterminated.check-config.out")"
grep -q "sslpassword=\*\*\*" "$outputs/sslpassword.check-config.out" ||
  fail "check-config must show sslpassword redacted"
# The scan must have seen real output, not empty files.
[[ $(cat "$outputs"/* | wc -l) -gt 100 ]] || fail "too little output to prove anything"
grep -q 'msg="relay started"' "$outputs/uri.run.out" || fail "the relay never ran"
grep -q "outbox_relay_messages_published_total" "$outputs/uri.metrics.out" || fail "no metrics scraped"
pass "a known password appears in none of $cases command outputs, logs and scrapes"
