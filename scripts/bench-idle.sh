#!/usr/bin/env bash
# bench-idle.sh: memory and CPU per idle WebSocket connection, side by side.
#
# Builds swload, the peers and switchboard, runs `swload idle` against each
# server in SERVERS with identical steps, then combines the results into
# one table and an SVG plot of RSS against connections.
#
# Knobs (environment):
#   STEPS    connection totals per step  (default 1000,2000,4000,7000,10000,13000,16000,19000)
#   CLIENTS  load worker processes, one loopback source address each (default 4;
#            keep the last step / CLIENTS at or under 5000: fd limits)
#   OUT_DIR  where reports go (default bench/results)
#   SERVERS  default "switchboard-epoll switchboard-netpoll peer-gorilla peer-gobwas peer-nbio"
#   EXTRA    extra flags for every `swload idle` run (e.g. "--settle 5s")
#
# Outputs: $OUT_DIR/idle-<server>.{json,md} per server, $OUT_DIR/idle.{md,json,svg}.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"

STEPS=${STEPS:-1000,2000,4000,7000,10000,13000,16000,19000}
CLIENTS=${CLIENTS:-4}
OUT_DIR=${OUT_DIR:-$repo/bench/results}
SERVERS=${SERVERS:-"switchboard-epoll switchboard-netpoll peer-gorilla peer-gobwas peer-nbio"}
EXTRA=${EXTRA:-}

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
bench_init bench-idle
bench_build
max_step=${STEPS##*,}
widen_ports $(( (max_step + CLIENTS - 1) / CLIENTS ))

failed=()
inputs=()
for s in $SERVERS; do
	rm -f "$OUT_DIR/idle-$s.json" "$OUT_DIR/idle-$s.md"
	echo "bench-idle: === $s ===" >&2
	# shellcheck disable=SC2086 # EXTRA is a list of flags
	run_swload idle --repo "$repo" --server-bin "$(server_bin "$s")" --server-args "$(server_flags "$s" idle)" --name "$s" \
		--steps "$STEPS" --clients "$CLIENTS" --out "$OUT_DIR/idle-$s" $EXTRA || failed+=("$s")
	[[ -f "$OUT_DIR/idle-$s.json" ]] && inputs+=("$OUT_DIR/idle-$s.json")
done
if (( ${#inputs[@]} > 0 )); then
	"$bin/swload" idle-report --in "${inputs[@]}" --out "$OUT_DIR/idle.md" --svg "$OUT_DIR/idle.svg"
fi
echo "bench-idle: report $OUT_DIR/idle.md, plot $OUT_DIR/idle.svg; per server $OUT_DIR/idle-<server>.md" >&2
if (( ${#failed[@]} > 0 )); then
	echo "bench-idle: FAILED: ${failed[*]}" >&2
	exit 1
fi
