#!/usr/bin/env bash
# bench.sh: the short version of every benchmark (`make bench`, a few
# minutes): the 0-allocation micro benchmarks, then each load scenario with
# switchboard (epoll) and every peer server, one after the other with
# identical load, 3 repetitions each. Reports go to bench/results (OUT_DIR)
# as <scenario>.md, .json and .svg; each says whether the machine was quiet.
# `make bench-full` runs the long versions.
#
# Knobs: OUT_DIR, SERVERS (default "switchboard-epoll peer-gorilla
# peer-gobwas peer-nbio"; idle adds switchboard-netpoll, IDLE_SERVERS
# overrides), REPS (default 3), BENCHTIME for the micro benchmarks
# (default 100ms), SCENARIOS (default "micro idle handshake echo fanout
# chat").
set -euo pipefail
here=$(dirname "$0")
source "$here/bench-lib.sh"
export OUT_DIR=${OUT_DIR:-$repo/bench/results}
export SERVERS=${SERVERS:-"switchboard-epoll peer-gorilla peer-gobwas peer-nbio"}
IDLE_SERVERS=${IDLE_SERVERS:-"switchboard-epoll switchboard-netpoll peer-gorilla peer-gobwas peer-nbio"}
export REPS=${REPS:-3}
SCENARIOS=${SCENARIOS:-"micro idle handshake echo fanout chat"}

failed=()
for sc in $SCENARIOS; do
	echo "bench: ===== $sc =====" >&2
	case $sc in
	micro)
		(cd "$repo" && go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-100ms}" ./protocol/ ./engine/) || failed+=(micro) ;;
	idle)
		# Up to the 20,000-fd cap even here: docs/one-million.md projects
		# from this report (the issue asks for >= 6 points up to >= 19,000).
		# Both backends; short settles.
		SERVERS=$IDLE_SERVERS \
			STEPS=${IDLE_STEPS:-1000,4000,7000,10000,13000,16000,19000} CLIENTS=4 EXTRA="--settle 2s --cpu-window 2s --gc-wait 1s" \
			"$here/bench-idle.sh" || failed+=(idle) ;;
	handshake)
		CONCURRENCY=16 DURATION=3s WARMUP=1s "$here/bench-handshake.sh" || failed+=(handshake) ;;
	echo)
		CONFIGS="100:64" DURATION=3s WARMUP=1s "$here/bench-echo.sh" || failed+=(echo) ;;
	fanout)
		ROOMS=4 MEMBERS=500 USERS=100 PUBLISHERS=4 RATE=20 DURATION=3s WARMUP=1s CLIENTS=2 \
			"$here/bench-fanout.sh" || failed+=(fanout) ;;
	chat)
		USERS=400 ROOMS=20 DURATION=5s WARMUP=1s "$here/bench-chat.sh" || failed+=(chat) ;;
	*) echo "bench: unknown scenario '$sc'" >&2; exit 2 ;;
	esac
done
if (( ${#failed[@]} > 0 )); then
	echo "bench: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "bench: done; reports in $OUT_DIR" >&2
