#!/usr/bin/env bash
# How `outbox-relay audit` scales: its peak RSS and time for topics of
# growing size (the same 1,000 keys), each fully reconciled against the sent
# trail (relay.on_ack: mark_sent, per-key sequence on). Memory should follow
# the keys, not the messages.
#   bench/audit_memory.sh [MESSAGES... [-- BIN_DIR]]   (default 50000 200000, build/release)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
sizes=() bin_dir=$root/build/release
while [[ $# -gt 0 ]]; do
  if [[ $1 == -- ]]; then bin_dir=$2; break; fi
  sizes+=("$1"); shift
done
((${#sizes[@]})) || sizes=(50000 200000)
relay_bin=$bin_dir/relay/outbox-relay
[[ -x "$relay_bin" ]] || { echo "$relay_bin not found (cmake --build --preset release)" >&2; exit 1; }

work=$(mktemp -d /tmp/outbox-audit-bench.XXXXXX)
chmod 755 "$work"
relay_pid=""
cleanup() {
  [[ -n "$relay_pid" ]] && { kill "$relay_pid"; wait "$relay_pid"; } 2>/dev/null
  [[ -n "${DEV_BROKER_PID:-}" ]] && kill "$DEV_BROKER_PID" 2>/dev/null
  "$root/scripts/throwaway-pg" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
server=$("$root/scripts/throwaway-pg" start "$work/pg")
# 24 partitions keep every partition under the dev broker's 5 MiB.
topics=()
for n in "${sizes[@]}"; do topics+=(--topic "audited-$n:24"); done
start_dev_broker "$bin_dir/relay" "$work" "${topics[@]}"

printf '%-12s %10s %14s %16s %10s\n' "messages" "keys" "audit time" "audit peak RSS" "verdict"
for n in "${sizes[@]}"; do
  psql -qX "$server" -c "CREATE DATABASE a$n"
  dsn="$server dbname=a$n"
  config="$work/a$n.yaml"
  write_relay_config "$config" "$dsn" "$DEV_BROKER_BOOTSTRAP"
  sed -i "s/^relay:$/relay:\n  on_ack: mark_sent\n  per_key_sequence: true\n  batch_size: 2000\n  max_in_flight_rows: 8000/" "$config"
  "$relay_bin" migrate --config "$config" >/dev/null
  psql -qX "$dsn" -c "INSERT INTO outbox (topic, key, payload)
    SELECT 'audited-$n', 'key-' || (i % 1000), convert_to(repeat('x', 50), 'UTF8') FROM generate_series(1, $n) i"
  "$relay_bin" run --config "$config" >"$work/relay-$n.log" 2>&1 &
  relay_pid=$!
  drained() { [[ $(psql -AtX "$dsn" -c "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0 ]]; }
  wait_until 300 drained || { tail "$work/relay-$n.log"; exit 1; }
  kill "$relay_pid"; wait "$relay_pid" || true; relay_pid=""
  # Wall time and the child's peak RSS (KiB), measured by the kernel.
  read -r seconds kib < <(python3 - "$relay_bin" "$config" "audited-$n" "$work/audit-$n.json" <<'PY'
import resource, subprocess, sys, time
started = time.monotonic()
with open(sys.argv[4], "w") as out:
    subprocess.run([sys.argv[1], "audit", "--config", sys.argv[2], "--topic", sys.argv[3], "--json"],
                   stdout=out)
print(f"{time.monotonic() - started:.1f}", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
)
  verdict=$(python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['topics'][0]; print('lost' if t['lost'] else 'ok', t['messages'], t['sent']['found'])" "$work/audit-$n.json")
  read -r ok messages found <<<"$verdict"
  [[ $ok == ok && $messages == "$n" && $found == "$n" ]] || { echo "audit of $n: $(cat "$work/audit-$n.json")" >&2; exit 1; }
  printf '%-12s %10s %12s s %13s MiB %10s\n' "$n" 1000 "$seconds" "$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')" "$ok"
done
