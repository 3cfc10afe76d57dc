#!/usr/bin/env bash
# bench-fanout.sh: R rooms × M members, P publishers: deliveries/s,
# publish→deliver latency, seq gaps and CPU per delivery, switchboard beside
# the peers' minimal room hub.
#
# Builds swload, the peers and switchboard, runs `swload fanout` against
# each server in SERVERS for each rate in RATE, one after the other with
# identical load, then combines everything into one report (a table per
# load, ratios BASELINE ÷ server) and an SVG chart.
#
# Knobs (environment):
#   ROOMS       rooms (default 1)
#   MEMBERS     members per room (default 10000)
#   USERS       distinct member user names over all rooms, member i being
#               m<i % USERS>; 0 (the default) gives every member its own
#               user. switchboard broadcasts presence only while a room has
#               at most 1,000 connected users.
#   PUBLISHERS  publisher connections, sharing the rooms (default 1)
#   RATE        space-separated publish rates, msgs/s in total (default "200 5")
#   DURATION    measured window per repetition (default 10s)
#   WARMUP      unmeasured publishing before it (default 2s)
#   REPS        repetitions, each against a fresh server (default 3)
#   CLIENTS     load worker processes, one loopback source address each (default 4)
#   OUT_DIR     where reports go (default bench/results)
#   SERVERS     default "switchboard-epoll switchboard-netpoll peer-gorilla peer-gobwas peer-nbio"
#   BASELINE    the server ratios are taken against (default switchboard-epoll)
#   EXTRA       extra flags for every `swload fanout` run
#
# switchboard's per-connection rate limit (serve --rate, 20/s by default) is
# raised to twice each publisher's share so a publisher can publish at all;
# nothing else is changed from its defaults.
#
# Outputs: $OUT_DIR/fanout-<server>-r<rooms>-m<members>-p<rate>.{json,md}
# per run and $OUT_DIR/fanout.{md,json,svg}.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"

ROOMS=${ROOMS:-1}
MEMBERS=${MEMBERS:-10000}
USERS=${USERS:-0}
PUBLISHERS=${PUBLISHERS:-1}
RATE=${RATE:-"200 5"}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-4}
OUT_DIR=${OUT_DIR:-$repo/bench/results}
SERVERS=${SERVERS:-"switchboard-epoll switchboard-netpoll peer-gorilla peer-gobwas peer-nbio"}
BASELINE=${BASELINE:-switchboard-epoll}
EXTRA=${EXTRA:-}

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
bench_init bench-fanout
bench_build
widen_ports $(( ROOMS * MEMBERS / CLIENTS + PUBLISHERS + 1 ))

failed=()
inputs=()
for rate in $RATE; do
	# Twice the per-publisher rate, rounded up, and never below the default.
	per_conn=$(awk -v r="$rate" -v p="$PUBLISHERS" 'BEGIN { x = 2 * r / p; x = (x == int(x)) ? x : int(x) + 1; print (x < 20 ? 20 : x) }')
	for s in $SERVERS; do
		out="$OUT_DIR/fanout-$s-r$ROOMS-m$MEMBERS-p$rate"
		rm -f "$out.json" "$out.md"
		echo "bench-fanout: === $s, $ROOMS room(s) × $MEMBERS members, $rate msgs/s ===" >&2
		# shellcheck disable=SC2086 # EXTRA is a list of flags
		run_swload fanout --repo "$repo" --server-bin "$(server_bin "$s")" \
			--server-args "$(server_flags "$s" fanout "--rate $per_conn")" --name "$s" \
			--rooms "$ROOMS" --members "$MEMBERS" --users "$USERS" --publishers "$PUBLISHERS" --rate "$rate" \
			--duration "$DURATION" --warmup "$WARMUP" --reps "$REPS" --clients "$CLIENTS" \
			--out "$out" $EXTRA || failed+=("$s-p$rate")
		[[ -f $out.json ]] && inputs+=("$out.json")
	done
done
if (( ${#inputs[@]} > 0 )); then
	"$bin/swload" fanout-report --in "${inputs[@]}" --baseline "$BASELINE" --out "$OUT_DIR/fanout.md" --svg "$OUT_DIR/fanout.svg"
fi
echo "bench-fanout: report $OUT_DIR/fanout.md and fanout.svg; per run $OUT_DIR/fanout-<server>-r<rooms>-m<members>-p<rate>.md" >&2
if (( ${#failed[@]} > 0 )); then
	echo "bench-fanout: FAILED: ${failed[*]}" >&2
	exit 1
fi
