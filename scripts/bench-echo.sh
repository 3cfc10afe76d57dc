#!/usr/bin/env bash
# bench-echo.sh: echo throughput, latency and CPU per message, side by side.
#
# Builds switchboard, swload and peer-gorilla, runs `swload echo` against
# switchboard (epoll backend), switchboard (netpoll backend) and the
# gorilla/websocket goroutine-per-connection peer, one after the other with
# identical load, for each configuration in CONFIGS, then combines each
# configuration's results into one table (ratios against BASELINE) and an
# SVG chart.
#
# Knobs (environment):
#   CONFIGS   space-separated CONNS:SIZE pairs (default "100:64 1000:1024")
#   DURATION  measured window per repetition (default 10s)
#   WARMUP    unmeasured load before it (default 2s)
#   REPS      repetitions, each against a fresh server (default 3)
#   CLIENTS   load worker processes, one loopback source address each (default 2)
#   INFLIGHT  closed loop: messages in flight per connection (default 1)
#   RATE      open loop: total messages/s, 0 = closed loop (default 0)
#   OUT_DIR   where reports go (default bench/results)
#   SERVERS   which servers, space separated (default "switchboard-epoll switchboard-netpoll peer-gorilla")
#   BASELINE  the server ratios are against (default switchboard-epoll)
#   EXTRA     extra flags for every `swload echo` run (e.g. "--loops 2")
#
# Outputs: $OUT_DIR/echo-<server>-c<conns>-s<size>.{json,md} per run and
# $OUT_DIR/echo-c<conns>-s<size>.{md,svg} per configuration. With the
# defaults the whole script takes about 5 minutes.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
CONFIGS=${CONFIGS:-"100:64 1000:1024"}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-2}
INFLIGHT=${INFLIGHT:-1}
RATE=${RATE:-0}
OUT_DIR=${OUT_DIR:-$repo/bench/results}
SERVERS=${SERVERS:-"switchboard-epoll switchboard-netpoll peer-gorilla"}
BASELINE=${BASELINE:-switchboard-epoll}
EXTRA=${EXTRA:-}

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
bin=$(mktemp -d "${TMPDIR:-/tmp}/bench-echo.XXXXXX")
trap 'rm -rf "$bin"' EXIT

echo "bench-echo: building into $bin" >&2
(cd "$repo/bench" && go build -o "$bin/swload" ./cmd/swload && go build -o "$bin/peer-gorilla" ./cmd/peer-gorilla)
failed=()
if [[ " $SERVERS " == *" switchboard-"* ]]; then
	# A server that does not build fails its runs; the others still run.
	if ! (cd "$repo" && go build -o "$bin/switchboard" ./cmd/switchboard); then
		echo "bench-echo: switchboard does not build; skipping its runs" >&2
		failed+=(switchboard-build)
	fi
fi

# Newer servers require chat authentication; the echo endpoint measures the
# transport, so it runs with auth off when the binary has the flag.
sb_extra=""
if [[ -x "$bin/switchboard" ]] && "$bin/switchboard" serve -h 2>&1 | grep -q -- '-auth '; then
	sb_extra=" --auth none"
fi

run_echo() { # name server-bin server-args conns size
	local name=$1 server=$2 args=$3 conns=$4 size=$5
	echo "bench-echo: === $name, $conns conns × $size B ===" >&2
	# shellcheck disable=SC2086 # EXTRA is a list of flags
	"$bin/swload" echo --repo "$repo" --server-bin "$server" --server-args "$args" --name "$name" \
		--conns "$conns" --size "$size" --duration "$DURATION" --warmup "$WARMUP" --reps "$REPS" \
		--clients "$CLIENTS" --inflight "$INFLIGHT" --rate "$RATE" \
		--out "$OUT_DIR/echo-$name-c$conns-s$size" $EXTRA
}

reports=()
for cfg in $CONFIGS; do
	conns=${cfg%%:*} size=${cfg##*:}
	if [[ -z $conns || -z $size || $conns == "$cfg" ]]; then
		echo "bench-echo: CONFIGS entry '$cfg' is not CONNS:SIZE" >&2
		exit 2
	fi
	for s in $SERVERS; do
		if [[ $s == switchboard-* && ! -x "$bin/switchboard" ]]; then
			failed+=("$s-c$conns-s$size")
			continue
		fi
		case $s in
		switchboard-epoll) run_echo "$s" "$bin/switchboard" "serve --backend epoll --echo --auth none" "$conns" "$size" || failed+=("$s-c$conns-s$size") ;;
		switchboard-netpoll) run_echo "$s" "$bin/switchboard" "serve --backend netpoll --echo --auth none" "$conns" "$size" || failed+=("$s-c$conns-s$size") ;;
		peer-gorilla) run_echo "$s" "$bin/peer-gorilla" "" "$conns" "$size" || failed+=("$s-c$conns-s$size") ;;
		*) echo "bench-echo: unknown server '$s'" >&2; exit 2 ;;
		esac
	done
	# Only this run's files: an older result with another load must not
	# slip into the table.
	inputs=()
	for s in $SERVERS; do
		f="$OUT_DIR/echo-$s-c$conns-s$size.json"
		[[ -f $f ]] && inputs+=("$f")
	done
	if (( ${#inputs[@]} > 0 )); then
		"$bin/swload" echo-report --in "${inputs[@]}" --baseline "$BASELINE" \
			--out "$OUT_DIR/echo-c$conns-s$size.md" --svg "$OUT_DIR/echo-c$conns-s$size.svg"
		reports+=("$OUT_DIR/echo-c$conns-s$size.md")
	fi
done

echo
echo "Reports:"
for r in "${reports[@]}"; do
	echo "  $r (side by side) and ${r%.md}.svg"
done
echo "  per run: $OUT_DIR/echo-<server>-c<conns>-s<size>.md"
if (( ${#failed[@]} > 0 )); then
	echo "bench-echo: FAILED: ${failed[*]}" >&2
	exit 1
fi
