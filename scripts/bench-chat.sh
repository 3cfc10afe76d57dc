#!/usr/bin/env bash
# bench-chat.sh: a realistic chat mix against switchboard: joins, open-loop
# publishes with typing, read receipts, reconnects that resume with since.
# Reports acked msgs/s, publish→delivery latency and verifies that no
# member saw a gap or a duplicate and nothing acked went undelivered. Only
# switchboard speaks the chat protocol, so there is no peer row.
#
# Knobs (environment):
#   USERS           users, one connection each (default 2000)
#   ROOMS           rooms (default 100)
#   ROOMS_PER_USER  rooms each user joins (default 3)
#   PUBLISH_RATE    publishes/s in total (default 200)
#   RECONNECT_RATE  reconnects/s in total (default 5)
#   DURATION, WARMUP, REPS (defaults 10s, 2s, 3), CLIENTS (default 2)
#   SERVERS         switchboard configurations (default "switchboard-epoll"; peers are skipped)
#   OUT_DIR, EXTRA
#
# switchboard's per-connection rate limit is raised to 100/s (reads and
# typing count toward it). Outputs: $OUT_DIR/chat.{json,md} for the first
# configuration, $OUT_DIR/chat-<server>.{json,md} for others.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"

USERS=${USERS:-2000}
ROOMS=${ROOMS:-100}
ROOMS_PER_USER=${ROOMS_PER_USER:-3}
PUBLISH_RATE=${PUBLISH_RATE:-200}
RECONNECT_RATE=${RECONNECT_RATE:-5}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-2}
OUT_DIR=${OUT_DIR:-$repo/bench/results}
SERVERS=${SERVERS:-switchboard-epoll}
EXTRA=${EXTRA:-}

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
bench_init bench-chat
bench_build
widen_ports $(( USERS / CLIENTS + 1000 ))

failed=()
first=1
for s in $SERVERS; do
	[[ $s == switchboard-* ]] || continue
	out="$OUT_DIR/chat-$s"
	(( first )) && out="$OUT_DIR/chat"
	first=0
	rm -f "$out.json" "$out.md"
	echo "bench-chat: === $s ===" >&2
	# shellcheck disable=SC2086 # EXTRA is a list of flags
	run_swload chat --repo "$repo" --server-bin "$(server_bin "$s")" --server-args "$(server_flags "$s" chat "--rate 100")" --name "$s" \
		--users "$USERS" --rooms "$ROOMS" --rooms-per-user "$ROOMS_PER_USER" --publish-rate "$PUBLISH_RATE" \
		--reconnect-rate "$RECONNECT_RATE" --duration "$DURATION" --warmup "$WARMUP" --reps "$REPS" --clients "$CLIENTS" \
		--out "$out" $EXTRA || failed+=("$s")
	echo "bench-chat: report $out.md" >&2
done
if (( ${#failed[@]} > 0 )); then
	echo "bench-chat: FAILED: ${failed[*]}" >&2
	exit 1
fi
