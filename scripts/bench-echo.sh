#!/usr/bin/env bash
# bench-echo.sh: echo throughput, latency and CPU per message, side by side.
#
# Builds swload, the peers and switchboard, runs `swload echo` against each
# server in SERVERS one after the other with identical load, for each
# configuration in CONFIGS, then combines everything into one report with
# a table per configuration (ratios BASELINE ÷ server) and an SVG chart.
#
# Knobs (environment):
#   CONFIGS   space-separated CONNS:SIZE pairs (default "100:64 1000:1024")
#   DURATION  measured window per repetition (default 10s)
#   WARMUP    unmeasured load before it (default 2s)
#   REPS      repetitions, each against a fresh server (default 3)
#   CLIENTS   load worker processes, one loopback source address each (default 2)
#   INFLIGHT  closed loop: messages in flight per connection (default 1)
#   RATE      open loop: total messages/s, latency from due times, 0 = closed loop (default 0)
#   OUT_DIR   where reports go (default bench/results)
#   SERVERS   default "switchboard-epoll switchboard-netpoll peer-gorilla peer-gobwas peer-nbio"
#   BASELINE  the server ratios are taken against (default switchboard-epoll)
#   EXTRA     extra flags for every `swload echo` run (e.g. "--loops 2")
#
# Outputs: $OUT_DIR/echo-<server>-c<conns>-s<size>.{json,md} per run and
# $OUT_DIR/echo.{md,json,svg}.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"

CONFIGS=${CONFIGS:-"100:64 1000:1024"}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-2}
INFLIGHT=${INFLIGHT:-1}
RATE=${RATE:-0}
OUT_DIR=${OUT_DIR:-$repo/bench/results}
SERVERS=${SERVERS:-"switchboard-epoll switchboard-netpoll peer-gorilla peer-gobwas peer-nbio"}
BASELINE=${BASELINE:-switchboard-epoll}
EXTRA=${EXTRA:-}

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
bench_init bench-echo
bench_build

failed=()
inputs=()
for cfg in $CONFIGS; do
	conns=${cfg%%:*} size=${cfg##*:}
	if [[ -z $conns || -z $size || $conns == "$cfg" ]]; then
		echo "bench-echo: CONFIGS entry '$cfg' is not CONNS:SIZE" >&2
		exit 2
	fi
	widen_ports $(( conns / CLIENTS + 1 ))
	for s in $SERVERS; do
		out="$OUT_DIR/echo-$s-c$conns-s$size"
		rm -f "$out.json" "$out.md"
		echo "bench-echo: === $s, $conns conns × $size B ===" >&2
		# shellcheck disable=SC2086 # EXTRA is a list of flags
		run_swload echo --repo "$repo" --server-bin "$(server_bin "$s")" --server-args "$(server_flags "$s" echo)" --name "$s" \
			--conns "$conns" --size "$size" --duration "$DURATION" --warmup "$WARMUP" --reps "$REPS" \
			--clients "$CLIENTS" --inflight "$INFLIGHT" --rate "$RATE" --out "$out" $EXTRA || failed+=("$s-c$conns-s$size")
		# Only this run's files: an older result with another load must
		# not slip into the report.
		[[ -f $out.json ]] && inputs+=("$out.json")
	done
done
if (( ${#inputs[@]} > 0 )); then
	"$bin/swload" echo-report --in "${inputs[@]}" --baseline "$BASELINE" --out "$OUT_DIR/echo.md" --svg "$OUT_DIR/echo.svg"
fi
echo "bench-echo: report $OUT_DIR/echo.md and echo.svg; per run $OUT_DIR/echo-<server>-c<conns>-s<size>.md" >&2
if (( ${#failed[@]} > 0 )); then
	echo "bench-echo: FAILED: ${failed[*]}" >&2
	exit 1
fi
