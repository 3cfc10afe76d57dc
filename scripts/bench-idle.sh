#!/usr/bin/env bash
# bench-idle.sh: memory and CPU per idle WebSocket connection, side by side.
#
# Builds switchboard, swload and peer-gorilla, runs `swload idle` against
# switchboard (epoll backend), switchboard (netpoll backend) and the
# gorilla/websocket goroutine-per-connection peer with identical steps, then
# combines the results into one table and an SVG plot.
#
# Knobs (environment):
#   STEPS    connection totals per step  (default 1000,2000,4000,7000,10000,13000,16000,19000)
#   CLIENTS  load worker processes, one loopback source address each (default 4;
#            keep the last step / CLIENTS at or under 5000: fd limits)
#   OUT_DIR  where reports go (default bench/results)
#   SERVERS  which runs to do, space separated (default "switchboard-epoll switchboard-netpoll peer-gorilla")
#   EXTRA    extra flags for every `swload idle` run (e.g. "--settle 5s")
#
# Kernel settings: the load uses source addresses 127.0.0.2.. with
# IP_BIND_ADDRESS_NO_PORT, so each needs at most STEPS_max/CLIENTS ephemeral
# ports. If net.ipv4.ip_local_port_range offers fewer than that, this script
# widens it to "1024 65535" (it says so) when /proc/sys is writable.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
STEPS=${STEPS:-1000,2000,4000,7000,10000,13000,16000,19000}
CLIENTS=${CLIENTS:-4}
OUT_DIR=${OUT_DIR:-$repo/bench/results}
SERVERS=${SERVERS:-"switchboard-epoll switchboard-netpoll peer-gorilla"}
EXTRA=${EXTRA:-}

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
bin=$(mktemp -d "${TMPDIR:-/tmp}/bench-idle.XXXXXX")
trap 'rm -rf "$bin"' EXIT

# Ephemeral ports: each worker needs one per connection it holds.
max_step=${STEPS##*,}
per_client=$(( (max_step + CLIENTS - 1) / CLIENTS ))
read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range
if (( hi - lo + 1 < per_client + 1000 )); then
	if [[ -w /proc/sys/net/ipv4/ip_local_port_range ]]; then
		echo "bench-idle: widening net.ipv4.ip_local_port_range from '$lo $hi' to '1024 65535'" >&2
		echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range
	else
		echo "bench-idle: warning: ip_local_port_range '$lo $hi' is narrow for $per_client connections per client" >&2
	fi
fi

echo "bench-idle: building into $bin" >&2
(cd "$repo/bench" && go build -o "$bin/swload" ./cmd/swload && go build -o "$bin/peer-gorilla" ./cmd/peer-gorilla)
failed=()
if [[ " $SERVERS " == *" switchboard-"* ]]; then
	# A server that does not build fails its runs; the others still run.
	if ! (cd "$repo" && go build -o "$bin/switchboard" ./cmd/switchboard); then
		echo "bench-idle: switchboard does not build; skipping its runs" >&2
		failed+=(switchboard-build)
	fi
fi

run_idle() { # name server-bin server-args
	local name=$1 server=$2 args=$3
	echo "bench-idle: === $name ===" >&2
	# shellcheck disable=SC2086 # EXTRA is a list of flags
	"$bin/swload" idle --repo "$repo" --server-bin "$server" --server-args "$args" --name "$name" \
		--steps "$STEPS" --clients "$CLIENTS" --out "$OUT_DIR/idle-$name" $EXTRA
}

for s in $SERVERS; do
	if [[ $s == switchboard-* && ! -x "$bin/switchboard" ]]; then
		failed+=("$s")
		continue
	fi
	case $s in
	switchboard-epoll) run_idle "$s" "$bin/switchboard" "serve --backend epoll --echo --auth none" || failed+=("$s") ;;
	switchboard-netpoll) run_idle "$s" "$bin/switchboard" "serve --backend netpoll --echo --auth none" || failed+=("$s") ;;
	peer-gorilla) run_idle "$s" "$bin/peer-gorilla" "" || failed+=("$s") ;;
	*) echo "bench-idle: unknown server '$s'" >&2; exit 2 ;;
	esac
done

inputs=()
for s in $SERVERS; do
	[[ -f "$OUT_DIR/idle-$s.json" ]] && inputs+=("$OUT_DIR/idle-$s.json")
done
if (( ${#inputs[@]} > 0 )); then
	"$bin/swload" idle-report --in "${inputs[@]}" --out "$OUT_DIR/idle.md" --svg "$OUT_DIR/idle.svg"
fi

echo
echo "Reports:"
for s in $SERVERS; do
	[[ -f "$OUT_DIR/idle-$s.md" ]] && echo "  $OUT_DIR/idle-$s.md"
done
[[ -f "$OUT_DIR/idle.md" ]] && echo "  $OUT_DIR/idle.md (side by side)" && echo "  $OUT_DIR/idle.svg"
if (( ${#failed[@]} > 0 )); then
	echo "bench-idle: FAILED: ${failed[*]}" >&2
	exit 1
fi
