#!/usr/bin/env bash
# What can be checked of the deployment files without Docker or Kubernetes:
# the systemd unit verifies, the container image's runtime stage installs
# every library the relay links, and docker-compose's database init script
# sets up the schema and the least-privilege relay role on a real server.
# (deploy_assets_test parses the compose file and the Kubernetes manifests;
# prometheus_assets runs promtool on both Prometheus configs.)
# Usage: deploy_checks.sh BIN_DIR
set -euo pipefail

bin_dir=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
e2e_begin deploy

# systemd: the unit as shipped, pointed at the binary just built (verify
# checks that the executables exist).
sed "s|/usr/local/bin/outbox-relay|$bin_dir/outbox-relay|g" \
  "$root/deploy/systemd/outbox-relay.service" >"$work/outbox-relay.service"
systemd-analyze verify "$work/outbox-relay.service" >"$work/verify.log" 2>&1 ||
  fail "systemd-analyze verify: $(cat "$work/verify.log")"
[[ ! -s "$work/verify.log" ]] || fail "systemd-analyze verify warns: $(cat "$work/verify.log")"
unit=$root/deploy/systemd/outbox-relay.service
drain_ms=$(sed -n 's/^  drain_timeout_ms: \([0-9]*\)$/\1/p' "$root/deploy/outbox-relay.example.yaml")
stop_s=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$unit")
((stop_s * 1000 > drain_ms)) || fail "TimeoutStopSec=$stop_s is not above the drain timeout (${drain_ms} ms)"
for option in NoNewPrivileges=yes ProtectSystem=strict Restart=on-failure KillSignal=SIGTERM \
  'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -qx "$option" "$unit" || fail "the unit lacks $option"
done
pass "systemd unit verifies (TimeoutStopSec ${stop_s} s > drain ${drain_ms} ms, sandboxed)"

# Container image: two stages, the runtime one non-root with a health check,
# and every shared library the relay links installed by its apt-get line
# (besides the C and C++ runtimes every Debian image has).
dockerfile=$root/deploy/Dockerfile
(($(grep -c '^FROM ' "$dockerfile") == 2)) || fail "the Dockerfile is not two stages"
grep -q '^FROM debian:bookworm-slim' "$dockerfile" || fail "the runtime stage is not bookworm-slim"
grep -Eq '^USER [1-9][0-9]*' "$dockerfile" || fail "the image runs as root"
grep -q '^HEALTHCHECK .*\["/usr/local/bin/outbox-relay", "health"\]$' "$dockerfile" ||
  fail "the HEALTHCHECK is not outbox-relay health (it reads the port from the config)"
! grep -qw curl "$dockerfile" || fail "the image installs curl"
grep -q 'strip --strip-unneeded build/release/relay/outbox-relay' "$dockerfile" ||
  fail "the image's binary is not stripped"
for ignored in .git build; do
  grep -qx "$ignored" "$root/.dockerignore" || fail ".dockerignore does not keep $ignored out"
done
# Stripped as the build stage does, the binary still runs.
strip --strip-unneeded -o "$work/outbox-relay.stripped" "$bin_dir/outbox-relay"
"$work/outbox-relay.stripped" --version | grep -q '^outbox-relay ' || fail "the stripped binary does not run"
grep -q '^ENTRYPOINT \["/usr/local/bin/outbox-relay"\]' "$dockerfile" || fail "no outbox-relay ENTRYPOINT"
# The build stage has what the top-level CMakeLists.txt configures (tests
# are off in the release preset).
for dir in $(sed -n 's/^add_subdirectory(\([a-z_]*\))$/\1/p' "$root/CMakeLists.txt"); do
  grep -q "^COPY $dir $dir$" "$dockerfile" || fail "the build stage does not copy $dir/ (CMakeLists.txt adds it)"
done
# And with only what it copies, the release preset configures.
mkdir -p "$work/image-src"
sed -n '1,/^FROM debian:bookworm-slim/{/^COPY /p}' "$dockerfile" | while read -r _ args; do
  read -ra parts <<<"$args"
  dest=${parts[-1]}
  for source in "${parts[@]:0:${#parts[@]}-1}"; do
    cp -r "$root/$source" "$work/image-src/$dest"
  done
done
(cd "$work/image-src" && cmake --preset release >"$work/image-configure.log" 2>&1) ||
  fail "the image's build stage does not configure: $(tail -n 5 "$work/image-configure.log")"
runtime=$(sed -n '/^FROM debian:bookworm-slim/,$p' "$dockerfile")
runtime_packages=()
for library in $(readelf -d "$bin_dir/outbox-relay" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  # The file the loader uses (ldd), and the package that installed it.
  path=$(ldd "$bin_dir/outbox-relay" | awk -v lib="$library" '$1 == lib { print $3 }')
  [[ -n "$path" ]] || fail "ldd does not resolve $library"
  package=$( (dpkg -S "$path" || dpkg -S "$(readlink -f "$path")" || dpkg -S "/usr$path") 2>/dev/null |
    head -n 1 | cut -d: -f1)
  [[ -n "$package" ]] || fail "no package provides $library"
  # (Sanitizer runtimes appear when the suite runs on an ASan/UBSan build.)
  case "$package" in libc6 | libgcc-s1 | libstdc++6 | libasan* | libubsan*) continue ;; esac
  grep -qw -- "$package" <<<"$runtime" || fail "the runtime stage does not install $package ($library)"
  runtime_packages+=("$package")
done
pass "the image's runtime stage installs every library the relay links"

# Install: the layout the Debian package gets (the default prefix, /usr; staged).
build_dir=$(cd "$bin_dir/.." && pwd)
DESTDIR=$work/root cmake --install "$build_dir" >"$work/install.log" 2>&1 ||
  fail "cmake --install: $(tail -n 5 "$work/install.log")"
for file in usr/bin/outbox-relay etc/outbox-relay/config.yaml usr/lib/systemd/system/outbox-relay.service \
  usr/share/outbox-relay/schema/roles/least_privilege.sql usr/share/doc/outbox-relay/LICENSE \
  usr/share/doc/outbox-relay/CHANGELOG.md usr/share/doc/outbox-relay/runbooks.md; do
  [[ -e "$work/root/$file" ]] || fail "cmake --install did not install /$file"
done
for sql in "$root"/schema/*.sql; do
  cmp -s "$sql" "$work/root/usr/share/outbox-relay/schema/$(basename "$sql")" || fail "schema/$(basename "$sql") not installed"
done
grep -qx 'ExecStart=/usr/bin/outbox-relay run --config /etc/outbox-relay/config.yaml' \
  "$work/root/usr/lib/systemd/system/outbox-relay.service" || fail "the installed unit does not run the installed binary"
OUTBOX_PG_PASSWORD=x "$work/root/usr/bin/outbox-relay" check-config --config "$work/root/etc/outbox-relay/config.yaml" \
  >/dev/null || fail "the installed example config does not check"
pass "cmake --install lays out the binary, /etc/outbox-relay/config.yaml, the unit, schema/ and the docs"

# The Debian package: the same files, the config a conffile, and a Depends
# that names every library package the binary needs (found above).
(cd "$work" && cpack -G DEB --config "$build_dir/CPackConfig.cmake" -B "$work/deb" >"$work/cpack.log" 2>&1) ||
  fail "cpack: $(tail -n 5 "$work/cpack.log")"
deb=$(ls "$work"/deb/outbox-relay_*.deb)
dpkg-deb -c "$deb" >"$work/deb/contents.txt"
grep -q ' ./usr/bin/outbox-relay$' "$work/deb/contents.txt" || fail "the package lacks the binary"
grep -q ' ./etc/outbox-relay/config.yaml$' "$work/deb/contents.txt" || fail "the package lacks the config"
dpkg-deb -e "$deb" "$work/deb/control"
grep -qx /etc/outbox-relay/config.yaml "$work/deb/control/conffiles" || fail "the config is not a conffile"
depends=$(dpkg-deb -f "$deb" Depends)
for package in "${runtime_packages[@]}"; do
  grep -qw -- "$package" <<<"$depends" || fail "the package does not depend on $package (Depends: $depends)"
done
pass "cpack builds $(basename "$deb"): conffile, Depends on every runtime library"

# docker-compose's PostgreSQL init script, on a throwaway server.
dsn=$("$root/scripts/throwaway-pg" start "$work/pg")
POSTGRES_USER=postgres POSTGRES_DB=postgres PGHOST=$work/pg PGPORT=5432 \
  OUTBOX_SCHEMA_DIR=$root/schema RELAY_PASSWORD_FILE=$root/deploy/compose/relay-pg-password.txt \
  sh "$root/deploy/compose/initdb.sh" >"$work/initdb.log" 2>&1 || fail "compose initdb.sh failed"
migrations=$(psql -tAqX "$dsn" -c "SELECT count(*) FROM outbox_relay_schema_migrations")
files=$(ls "$root"/schema/*.sql | wc -l)
((migrations == files)) || fail "initdb.sh applied $migrations of $files schema files"
member=$(psql -tAqX "$dsn" -c "SELECT pg_has_role('relay_svc', 'outbox_relay', 'MEMBER')")
[[ $member == t ]] || fail "relay_svc is not in outbox_relay"
pass "compose's initdb.sh applies schema/ and creates relay_svc in outbox_relay"
