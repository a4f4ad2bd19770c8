#!/usr/bin/env bash
# The library as another team adopts it: `cmake --install --component inbox`
# into an empty prefix, then an application outside the build tree
# (consumer/examples/package) finds it with find_package(outbox-inbox),
# builds, and runs. Usage: inbox_package.sh BUILD_DIR [EXTRA_CXX_FLAGS]
set -euo pipefail
build_dir=$(cd "$1" && pwd)
extra_flags=${2:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/outbox-inbox-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build_dir" --component inbox --prefix "$work/prefix" >"$work/install.log" ||
  fail "install: $(cat "$work/install.log")"
for file in include/outbox/inbox/consumer.h include/outbox/inbox/options.h \
            include/outbox/inbox/message.h share/outbox-inbox/schema/0001_inbox.sql; do
  [[ -f "$work/prefix/$file" ]] || fail "not installed: $file"
done
# (lib/ or lib/<multiarch>/, as GNUInstallDirs decides.)
installed() { [[ -n $(find "$work/prefix" -path "*/$1" -print -quit) ]]; }
installed "liboutbox-inbox.a" || fail "no liboutbox-inbox.a installed"
installed "cmake/outbox-inbox/outbox-inbox-config.cmake" || fail "no CMake package config installed"
# Nothing of the relay itself comes with the component.
[[ ! -e "$work/prefix/bin/outbox-relay" ]] || fail "the inbox component installed the relay"
echo "ok: installed $(cd "$work/prefix" && find . -type f | wc -l) files under a fresh prefix"

cp -r "$root/consumer/examples" "$work/src"
cmake -S "$work/src/package" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_FLAGS="$extra_flags" -DCMAKE_EXE_LINKER_FLAGS="$extra_flags" \
  >"$work/configure.log" 2>&1 || fail "configure: $(tail -20 "$work/configure.log")"
cmake --build "$work/build" -j "$(nproc)" >"$work/build.log" 2>&1 ||
  fail "build: $(tail -30 "$work/build.log")"
"$work/build/balance-service" --help | grep -q -- "--on-gap" || fail "the built service does not run"
echo "ok: an application outside the tree found outbox::inbox with find_package, built and ran"
