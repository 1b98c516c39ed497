#!/usr/bin/env bash
# Packaging test: builds and packs nestjs-prom-metrics (`npm pack`), installs the tarball into
# small consumer apps (a NestJS 12 ESM app and a NestJS 11 CommonJS app, one folder each beside
# this script), runs each app's main.js (boots Nest with PrometheusModule.forRoot(), requests
# /hello twice, checks http_requests_total on /metrics) and type-checks main.js against the
# installed typings. The consumers install only the HTTP peers (@nestjs/common, @nestjs/core,
# @nestjs/platform-express, reflect-metadata, rxjs) plus the tarball and its own dependencies.
#
# Everything happens in a temporary folder: no node_modules land in the repo.
#
#   bash test/consumers/run.sh                  all consumers (npm run test:consumers)
#   bash test/consumers/run.sh cjs-nest11       only the named ones
#   KEEP=1 bash test/consumers/run.sh           keep the temporary folder and print its path
#   UPDATE_LOCKS=1 bash test/consumers/run.sh   re-resolve the consumers' package-lock.json
#                                               (committed, so installs are reproducible) first
#
# Needs: node and npm, the npm registry, and the repo's own dev dependencies installed (npm ci):
# the build uses them, and the type check uses its TypeScript and @types/node.
# Last line: `consumers: N passed, N failed`; exits 1 when any consumer failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/test/consumers"
START=$SECONDS

# When started by `npm run`, npm's own settings for the repo must not leak into the consumers' installs.
unset npm_config_local_prefix npm_config_prefix
NPM_FLAGS=(--no-audit --no-fund --no-update-notifier)

if [ "$#" -gt 0 ]; then
  CONSUMERS=("$@")
else
  CONSUMERS=()
  for dir in "$HERE"/*/; do
    [ -f "$dir/package.json" ] && [ -f "$dir/main.js" ] && CONSUMERS+=("$(basename "$dir")")
  done
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nestjs-prom-metrics-consumers.XXXXXX")
if [ "${KEEP:-}" = 1 ]; then
  echo "temporary folder (kept): $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi

# Prints the last lines of a log, indented, under a failure.
show() { tail -n "${2:-40}" "$1" | sed 's/^/    | /'; }
# Copies a consumer's committed files (never a node_modules) to $WORK/<name>.
copy() {
  mkdir -p "$WORK/$1"
  tar -C "$HERE/$1" --exclude=node_modules -cf - . | tar -C "$WORK/$1" -xf -
}

if [ "${UPDATE_LOCKS:-}" = 1 ]; then
  for name in "${CONSUMERS[@]}"; do
    copy "$name"
    rm -f "$WORK/$name/package-lock.json"
    if (cd "$WORK/$name" && npm install --package-lock-only "${NPM_FLAGS[@]}") >"$WORK/$name.lock.log" 2>&1; then
      cp "$WORK/$name/package-lock.json" "$HERE/$name/package-lock.json"
      echo "updated test/consumers/$name/package-lock.json"
    else
      echo "could not resolve $name's dependencies:"; show "$WORK/$name.lock.log"; exit 1
    fi
    rm -rf "${WORK:?}/$name"
  done
fi

step=$SECONDS
if ! (cd "$ROOT" && npm run build) >"$WORK/build.log" 2>&1; then
  echo "FAIL npm run build"; show "$WORK/build.log"
  echo "consumers: 0 passed, ${#CONSUMERS[@]} failed"; exit 1
fi
mkdir -p "$WORK/pack"
if ! (cd "$ROOT" && npm pack --pack-destination "$WORK/pack") >"$WORK/pack.log" 2>&1; then
  echo "FAIL npm pack"; show "$WORK/pack.log"
  echo "consumers: 0 passed, ${#CONSUMERS[@]} failed"; exit 1
fi
TARBALL=$(ls "$WORK"/pack/*.tgz)
echo "built and packed $(basename "$TARBALL") ($(( SECONDS - step ))s)"

TSC="$ROOT/node_modules/.bin/tsc"
passed=0
failed=0
for name in "${CONSUMERS[@]}"; do
  dir="$WORK/$name"
  log="$WORK/$name.log"
  step=$SECONDS
  if [ ! -f "$HERE/$name/package.json" ]; then
    echo "FAIL $name: no test/consumers/$name/package.json"; failed=$((failed + 1)); continue
  fi
  copy "$name"

  # The deps of package.json (locked by its package-lock.json) plus the tarball, as an app would.
  if ! (cd "$dir" && npm install "${NPM_FLAGS[@]}" "$TARBALL") >"$log" 2>&1; then
    echo "FAIL $name: npm install"; show "$log"; failed=$((failed + 1)); continue
  fi
  install_time=$(( SECONDS - step ))

  # Only the HTTP peers come from @nestjs: the library must need no other Nest package.
  nest=$(cd "$dir/node_modules/@nestjs" && echo *)
  if [ "$nest" != "common core platform-express" ]; then
    echo "FAIL $name: node_modules/@nestjs holds '$nest', expected 'common core platform-express'"
    failed=$((failed + 1)); continue
  fi

  step=$SECONDS
  if ! out=$(cd "$dir" && node main.js 2>&1) || ! grep -q "^OK $name" <<<"$out"; then
    echo "FAIL $name: node main.js"; sed 's/^/    | /' <<<"$out"; failed=$((failed + 1)); continue
  fi
  run_time=$(( SECONDS - step ))

  step=$SECONDS
  if [ ! -x "$TSC" ]; then
    types="type check skipped (no $TSC: run npm ci in the repo)"
  elif (cd "$dir" && "$TSC" -p tsconfig.json --typeRoots "$ROOT/node_modules/@types") >"$dir.tsc.log" 2>&1; then
    types="types OK ($(( SECONDS - step ))s)"
  else
    echo "FAIL $name: tsc -p tsconfig.json (main.js against the installed typings)"; show "$dir.tsc.log"
    failed=$((failed + 1)); continue
  fi

  echo "PASS $name: install ${install_time}s, run ${run_time}s, ${types}"
  sed 's/^/    /' <<<"$out"
  passed=$((passed + 1))
done

echo "total $(( SECONDS - START ))s"
echo "consumers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
