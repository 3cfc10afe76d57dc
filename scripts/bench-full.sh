#!/usr/bin/env bash
# bench-full.sh: the long version of every benchmark (`make bench-full`,
# about an hour on 2 cores): idle up to the 20,000-fd cap, churn, two echo
# loads, fan-out at 10,000 members, the chat mix, with both switchboard
# backends and every peer, 5 repetitions each. Same reports as bench.sh.
#
# Knobs: OUT_DIR, SERVERS (default both switchboard backends and every
# peer), REPS (default 5), SCENARIOS (default "micro idle handshake echo
# fanout chat").
set -euo pipefail
here=$(dirname "$0")
source "$here/bench-lib.sh"
export OUT_DIR=${OUT_DIR:-$repo/bench/results}
export SERVERS=${SERVERS:-"switchboard-epoll switchboard-netpoll peer-gorilla peer-gobwas peer-nbio"}
export REPS=${REPS:-5}
SCENARIOS=${SCENARIOS:-"micro idle handshake echo fanout chat"}

failed=()
for sc in $SCENARIOS; do
	echo "bench-full: ===== $sc =====" >&2
	case $sc in
	micro)
		(cd "$repo" && go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-1s}" ./protocol/ ./engine/) || failed+=(micro) ;;
	idle)
		STEPS=1000,2000,4000,7000,10000,13000,16000,19000 CLIENTS=4 "$here/bench-idle.sh" || failed+=(idle) ;;
	handshake)
		CONCURRENCY=32 DURATION=10s WARMUP=2s "$here/bench-handshake.sh" || failed+=(handshake) ;;
	echo)
		CONFIGS="100:64 1000:1024" DURATION=10s WARMUP=2s "$here/bench-echo.sh" || failed+=(echo) ;;
	fanout)
		ROOMS=1 MEMBERS=10000 PUBLISHERS=1 RATE="200 5" DURATION=10s WARMUP=2s CLIENTS=4 \
			"$here/bench-fanout.sh" || failed+=(fanout) ;;
	chat)
		USERS=4000 ROOMS=200 DURATION=20s WARMUP=2s "$here/bench-chat.sh" || failed+=(chat) ;;
	*) echo "bench-full: unknown scenario '$sc'" >&2; exit 2 ;;
	esac
done
if (( ${#failed[@]} > 0 )); then
	echo "bench-full: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "bench-full: done; reports in $OUT_DIR" >&2
