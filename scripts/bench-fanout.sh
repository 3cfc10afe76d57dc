#!/usr/bin/env bash
# bench-fanout.sh: one chat room, many members: deliveries/s, publish→deliver
# latency, seq gaps and CPU per delivery, for switchboard's two backends.
#
# Builds switchboard and swload, runs `swload fanout` against switchboard
# (epoll) and switchboard (netpoll) for each rate in RATE, then combines
# every run into one table and an SVG chart. Only switchboard speaks the chat
# protocol, so the gorilla peer of the other scenarios is not in it.
#
# Knobs (environment):
#   MEMBERS     members in the room (default 10000)
#   USERS       distinct member user names, member i being m<i % USERS>;
#               0 (the default) gives every member its own user. Presence
#               is broadcast only while a room has at most 1,000 connected
#               users, so setup costs ~500k presence frames, not n².
#   PUBLISHERS  publisher connections (default 1)
#   RATE        space-separated publish rates, msgs/s in total (default "200 5":
#               the asked load, and a lighter point a 2-core machine sustains)
#   DURATION    measured window per repetition (default 10s)
#   WARMUP      unmeasured publishing before it (default 2s)
#   REPS        repetitions, each against a fresh server (default 3)
#   CLIENTS     load worker processes, one loopback source address each (default 4)
#   OUT_DIR     where reports go (default bench/results)
#   SERVERS     which configurations (default "switchboard-epoll switchboard-netpoll")
#   EXTRA       extra flags for every `swload fanout` run
#
# The server's per-connection rate limit (--rate, 20/s by default) is raised
# to twice each publisher's share, so that one publisher can publish at all;
# nothing else is changed from the defaults.
#
# Outputs: $OUT_DIR/fanout-<server>-m<members>-r<rate>.{json,md} per run and
# $OUT_DIR/fanout.{md,svg}. With the defaults it takes about 5 minutes.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
MEMBERS=${MEMBERS:-10000}
USERS=${USERS:-0}
PUBLISHERS=${PUBLISHERS:-1}
RATE=${RATE:-"200 5"}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-4}
OUT_DIR=${OUT_DIR:-$repo/bench/results}
SERVERS=${SERVERS:-"switchboard-epoll switchboard-netpoll"}
EXTRA=${EXTRA:-}

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
bin=$(mktemp -d "${TMPDIR:-/tmp}/bench-fanout.XXXXXX")
trap 'rm -rf "$bin"' EXIT

echo "bench-fanout: building into $bin" >&2
(cd "$repo/bench" && go build -o "$bin/swload" ./cmd/swload)
(cd "$repo" && go build -o "$bin/switchboard" ./cmd/switchboard)

failed=()
inputs=()
for rate in $RATE; do
	# Twice the per-publisher rate, rounded up, and never below the default.
	per_conn=$(awk -v r="$rate" -v p="$PUBLISHERS" 'BEGIN { x = 2 * r / p; x = (x == int(x)) ? x : int(x) + 1; print (x < 20 ? 20 : x) }')
	for s in $SERVERS; do
		case $s in
		switchboard-epoll) backend=epoll ;;
		switchboard-netpoll) backend=netpoll ;;
		*) echo "bench-fanout: unknown server '$s'" >&2; exit 2 ;;
		esac
		out="$OUT_DIR/fanout-$s-m$MEMBERS-r$rate"
		echo "bench-fanout: === $s, $MEMBERS members, $rate msgs/s ===" >&2
		# shellcheck disable=SC2086 # EXTRA is a list of flags
		"$bin/swload" fanout --repo "$repo" --server-bin "$bin/switchboard" \
			--server-args "serve --backend $backend --auth none --rate $per_conn" --name "$s" \
			--members "$MEMBERS" --users "$USERS" --publishers "$PUBLISHERS" --rate "$rate" \
			--duration "$DURATION" --warmup "$WARMUP" --reps "$REPS" --clients "$CLIENTS" \
			--out "$out" $EXTRA || failed+=("$s-r$rate")
		[[ -f $out.json ]] && inputs+=("$out.json")
	done
done

if (( ${#inputs[@]} > 0 )); then
	"$bin/swload" fanout-report --in "${inputs[@]}" --out "$OUT_DIR/fanout.md" --svg "$OUT_DIR/fanout.svg"
fi
echo
echo "Report: $OUT_DIR/fanout.md and $OUT_DIR/fanout.svg; per run: $OUT_DIR/fanout-<server>-m<members>-r<rate>.md"
if (( ${#failed[@]} > 0 )); then
	echo "bench-fanout: FAILED: ${failed[*]}" >&2
	exit 1
fi
