#!/usr/bin/env bash
# bench-handshake.sh: connection churn (connect, upgrade, one echo, close):
# connections/s, upgrade latency percentiles and CPU per connection, side by
# side.
#
# Builds swload, the peers and switchboard, runs `swload handshake` against
# each server in SERVERS one after the other with identical load, then
# combines the results (ratios BASELINE ÷ server) with an SVG chart.
#
# Knobs (environment):
#   CONCURRENCY  connections in flight, all workers (default 16)
#   RATE         open loop: connections/s in total, latency from due times; 0 = closed loop (default 0)
#   DURATION     measured window per repetition (default 10s)
#   WARMUP       unmeasured churn before it (default 2s)
#   REPS         repetitions, each against a fresh server (default 3)
#   CLIENTS      worker processes, one loopback source address each (default 2)
#   OUT_DIR      where reports go (default bench/results)
#   SERVERS      default "switchboard-epoll switchboard-netpoll peer-gorilla peer-gobwas peer-nbio"
#   BASELINE     the server ratios are taken against (default switchboard-epoll)
#   EXTRA        extra flags for every `swload handshake` run
#
# Every connection is closed by the server first (the client waits for it),
# so TIME_WAIT stays on the server's side and the clients' ports are free
# again at once. Outputs: $OUT_DIR/handshake-<server>.{json,md} and
# $OUT_DIR/handshake.{md,json,svg}.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"

CONCURRENCY=${CONCURRENCY:-16}
RATE=${RATE:-0}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-2}
OUT_DIR=${OUT_DIR:-$repo/bench/results}
SERVERS=${SERVERS:-"switchboard-epoll switchboard-netpoll peer-gorilla peer-gobwas peer-nbio"}
BASELINE=${BASELINE:-switchboard-epoll}
EXTRA=${EXTRA:-}

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
bench_init bench-handshake
bench_build
widen_ports 20000

failed=()
inputs=()
for s in $SERVERS; do
	out="$OUT_DIR/handshake-$s"
	rm -f "$out.json" "$out.md"
	echo "bench-handshake: === $s ===" >&2
	# shellcheck disable=SC2086 # EXTRA is a list of flags
	run_swload handshake --repo "$repo" --server-bin "$(server_bin "$s")" --server-args "$(server_flags "$s" handshake)" --name "$s" \
		--concurrency "$CONCURRENCY" --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --reps "$REPS" \
		--clients "$CLIENTS" --out "$out" $EXTRA || failed+=("$s")
	[[ -f $out.json ]] && inputs+=("$out.json")
done
if (( ${#inputs[@]} > 0 )); then
	"$bin/swload" handshake-report --in "${inputs[@]}" --baseline "$BASELINE" --out "$OUT_DIR/handshake.md" --svg "$OUT_DIR/handshake.svg"
fi
echo "bench-handshake: report $OUT_DIR/handshake.md and handshake.svg; per server $OUT_DIR/handshake-<server>.md" >&2
if (( ${#failed[@]} > 0 )); then
	echo "bench-handshake: FAILED: ${failed[*]}" >&2
	exit 1
fi
