#!/usr/bin/env bash
# soak.sh: switchboard under mixed chat load with churn for a long time.
# Records server RSS, heap, goroutines, open fds and publish→deliver p99
# every INTERVAL into bench/results/soak.{md,svg,json}, and checks: no
# growth trend, no lost acked message, no leaked fd. Not part of make test.
#
# Knobs (environment):
#   DURATION  how long the load runs (default 30m; 5m is a quick check)
#   INTERVAL  sampling interval (default 10s)
#   CLIENTS   chat clients (default 500), ROOMS rooms (default 25)
#   RATE      publishes per second per client (default 0.5)
#   CHURN     share of clients reconnecting with since each interval (default 0.05)
#   OUT       report path without extension (default bench/results/soak)
#   SERVER_ARGS  switchboard serve arguments (default "serve --auth none
#             --memory-max-messages 1000": the memory store keeps each room's
#             newest messages, so a smaller cap makes it reach its steady
#             size in a couple of minutes instead of growing for the first
#             17 of a 30-minute run; clients rejoin well within it)
# Exit status 1 when any check fails (the report says which).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# The Go tarball installs here; a fresh shell may not have it on PATH yet.
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
DURATION=${DURATION:-30m}
INTERVAL=${INTERVAL:-10s}
CLIENTS=${CLIENTS:-500}
ROOMS=${ROOMS:-25}
RATE=${RATE:-0.5}
CHURN=${CHURN:-0.05}
OUT=${OUT:-$repo/bench/results/soak}
SERVER_ARGS=${SERVER_ARGS:-serve --auth none --memory-max-messages 1000}

bin=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
trap 'rm -rf "$bin"' EXIT
(cd "$repo/bench" && go build -o "$bin/swsoak" ./cmd/swsoak)
(cd "$repo" && go build -o "$bin/switchboard" ./cmd/switchboard)
"$bin/swsoak" --repo "$repo" --server-bin "$bin/switchboard" --server-args "$SERVER_ARGS" \
	--duration "$DURATION" --interval "$INTERVAL" --clients "$CLIENTS" --rooms "$ROOMS" \
	--rate "$RATE" --churn "$CHURN" --out "$OUT"
if grep -q '^- \*\*FAIL\*\*' "$OUT.md"; then
	echo "soak: FAILED checks:" >&2
	grep '^- \*\*FAIL\*\*' "$OUT.md" >&2
	exit 1
fi
echo "soak: all checks passed; report $OUT.md"
