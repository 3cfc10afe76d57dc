#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME each (default 30s).
set -euo pipefail
cd "$(dirname "$0")/.."
# The Go tarball installs here; a fresh shell may not have it on PATH yet.
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
t=${FUZZTIME:-30s}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "== $pkg $target ($t)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" "$pkg"
  done
done
