#!/usr/bin/env bash
# Delivery lag you can scrape and alert on, end to end: the real relay and
# outbox-dev-broker, a real Prometheus server scraping the relay (with the
# shipped alert rules loaded), and the broker taken down and back.
# Usage: lag_e2e.sh BIN_DIR
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
e2e_begin lag

# metric NAME: its value in a fresh scrape of the relay.
metric() {
  curl -fsS "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name { print $2 }'
}
# promql QUERY: the first sample's value from the Prometheus HTTP API.
promql() {
  curl -fsS "http://127.0.0.1:$prometheus_port/api/v1/query" --data-urlencode "query=$1" |
    sed -n 's/.*"value":\[[0-9.]*,"\([^"]*\)"\].*/\1/p'
}
readyz_code() { curl -s -o "$work/readyz.json" -w '%{http_code}' "http://127.0.0.1:$port/readyz"; }

dsn=$("$root/scripts/throwaway-pg" start "$work/pg")
start_dev_broker "$bin_dir" "$work" --topic orders:4
config="$work/relay.yaml"
write_relay_config "$config" "$dsn" "$DEV_BROKER_BOOTSTRAP"
# A short message timeout so that an outage shows up within seconds.
sed -i 's/^    linger.ms: "5"$/    linger.ms: "5"\n    message.timeout.ms: "3000"/' "$config"
"$bin_dir/outbox-relay" migrate --config "$config" >/dev/null
"$bin_dir/outbox-relay" run --config "$config" >"$work/relay.log" 2>&1 &
relay_pid=$!
wait_until 10 grep -q 'msg="relay started"' "$work/relay.log" || fail "relay did not start"
port=$(metrics_port "$work/relay.log")

# A real Prometheus scraping the relay every second, with the shipped rules.
cp "$root/deploy/prometheus/outbox-relay.rules.yml" "$work/"
cat >"$work/prometheus.yml" <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [outbox-relay.rules.yml]
scrape_configs:
  - job_name: outbox-relay
    static_configs: [{ targets: ["127.0.0.1:$port"] }]
YAML
promtool check config "$work/prometheus.yml" >/dev/null || fail "generated prometheus config"
for attempt in 1 2 3 4 5; do
  prometheus_port=$((20000 + RANDOM % 40000))
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prometheus_port" >"$work/prometheus.log" 2>&1 &
  extra_pid=$!
  if wait_until 20 curl -fsS "http://127.0.0.1:$prometheus_port/-/ready"; then break; fi
  kill "$extra_pid" 2>/dev/null || true; wait "$extra_pid" 2>/dev/null || true
  extra_pid=""
done
[[ -n "$extra_pid" ]] || fail "prometheus did not start"
pass "prometheus scrapes the relay"

insert_rows() {  # insert_rows FIRST COUNT
  for i in $(seq "$1" $(($1 + $2 - 1))); do
    echo "INSERT INTO outbox (topic, key, payload) VALUES ('orders', 'k$((i % 5))', 'm$i');"
  done | psql -q -X -v ON_ERROR_STOP=1 "$dsn"
}
outbox_empty() { [[ $(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox") == 0 ]]; }
lag_is_zero() { [[ $(metric outbox_relay_oldest_pending_age_seconds) == 0 ]]; }
ready() { [[ $(readyz_code) == 200 ]]; }
not_ready() { [[ $(readyz_code) == 503 ]]; }

insert_rows 1 50
wait_until 30 outbox_empty || fail "first rows not delivered"
wait_until 10 lag_is_zero || fail "lag not 0 after draining"
wait_until 10 ready || fail "/readyz not ready: $(cat "$work/readyz.json")"
pass "healthy: lag 0, ready"

# --- the broker goes away -----------------------------------------------------
kill -USR1 "$DEV_BROKER_PID"
insert_rows 51 30
wait_until 20 not_ready || fail "/readyz must say not ready while no acks arrive"
grep -q '"kafka":"unreachable"' "$work/readyz.json" || fail "readyz body: $(cat "$work/readyz.json")"
first=$(metric outbox_relay_oldest_pending_age_seconds)
sleep 1.5
second=$(metric outbox_relay_oldest_pending_age_seconds)
awk -v a="$first" -v b="$second" 'BEGIN { exit !(a > 0 && b > a) }' ||
  fail "lag must rise while the broker is down ($first then $second)"
[[ $(metric outbox_relay_pending_messages) == 30 ]] || fail "pending: $(metric outbox_relay_pending_messages)"
[[ $(metric outbox_relay_kafka_up) == 0 ]] || fail "kafka_up must be 0"
prometheus_sees_lag() {
  awk -v v="$(promql 'max(outbox_relay_oldest_pending_age_seconds)')" 'BEGIN { exit !(v > 1) }'
}
wait_until 15 prometheus_sees_lag || fail "prometheus does not see the lag"
pass "broker down: lag rises ($first s, then $second s), readyz 503, prometheus sees it"

# --- and comes back -------------------------------------------------------------
kill -USR2 "$DEV_BROKER_PID"
wait_until 60 outbox_empty || fail "rows not delivered after the broker returned"
wait_until 10 lag_is_zero || fail "lag not back to 0"
wait_until 20 ready || fail "/readyz not ready again: $(cat "$work/readyz.json")"
published=$(metric 'outbox_relay_messages_published_total{topic="orders"}')
[[ $published == 80 ]] || fail "published_total must equal the 80 rows inserted (got $published)"
prometheus_has_all() { [[ $(promql 'sum(outbox_relay_messages_published_total)') == 80 ]]; }
wait_until 15 prometheus_has_all || fail "prometheus: published $(promql 'sum(outbox_relay_messages_published_total)')"
prometheus_lag_zero() { [[ $(promql 'max(outbox_relay_oldest_pending_age_seconds)') == 0 ]]; }
wait_until 15 prometheus_lag_zero || fail "prometheus: lag $(promql 'max(outbox_relay_oldest_pending_age_seconds)')"
curl -fsS "http://127.0.0.1:$prometheus_port/api/v1/rules" | grep -q '"name":"OutboxRelayDeliveryLagHigh"' ||
  fail "the shipped rules are not loaded"
pass "broker back: all 80 published, lag 0, ready; prometheus agrees and has the rules"

# --- the shipped dashboard and rules only use metrics the relay exports -------
# Read from the scrape itself: every labelled counter is there from the start.
# Two families are labelled by what the relay learns later (a broker's node
# id, a shard it has held), so they may still be empty, and one exists only
# for a partitioned outbox (retention_e2e scrapes it); the source names them.
curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"
promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics"
{
  sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' "$work/metrics.txt"
  echo outbox_relay_kafka_broker_rtt_seconds
  echo outbox_relay_lease_epoch
  echo outbox_relay_partitions_ahead
} | sort -u >"$work/exported.txt"
grep -qx outbox_relay_dead_lettered_total "$work/exported.txt" || fail "the scrape lacks the dead-letter counter"
grep -qx process_resident_memory_bytes "$work/exported.txt" || fail "the scrape lacks process_resident_memory_bytes"
missing=""
for name in $(grep -ohE '(outbox_relay|process)_[a-z_]+' "$root"/deploy/grafana/*.json "$root"/deploy/prometheus/*.yml | sort -u); do
  base=$(sed -E 's/_(bucket|sum|count)$//' <<<"$name")
  grep -qx "$base" "$work/exported.txt" || missing+=" $name"
done
[[ -z "$missing" ]] || fail "dashboard or rules use metrics the relay does not export:$missing"
pass "dashboard and alert rules reference only exported metrics"
echo "lag_e2e: all checks passed"
