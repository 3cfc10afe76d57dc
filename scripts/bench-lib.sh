# bench-lib.sh: what the bench-*.sh scripts share. Source it; it defines
# functions and sets nothing until bench_init runs.
#
#   bench_init NAME    make a temp dir for binaries ($bin), remove it and stop
#                      any swload still running on exit or Ctrl-C, put Go on PATH
#   bench_build        build swload, the peers and switchboard into $bin
#   widen_ports N      make sure one source address has N ephemeral ports
#   server_bin NAME, server_flags NAME SCENARIO [EXTRA]
#                      the binary and --server-args of a server name:
#                      switchboard-epoll, switchboard-netpoll, peer-gorilla,
#                      peer-gobwas, peer-nbio
#   run_swload ARGS    run $bin/swload in the background and wait for it, so a
#                      TERM or INT to the script reaches it (it then stops the
#                      servers and workers it started)

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The Go tarball installs here; a fresh shell may not have it on PATH yet.
[[ -x /usr/local/go/bin/go ]] && export PATH="$PATH:/usr/local/go/bin"

swload_pid=""

bench_cleanup() {
	if [[ -n $swload_pid ]] && kill -0 "$swload_pid" 2>/dev/null; then
		kill -TERM "$swload_pid" 2>/dev/null || true
		wait "$swload_pid" 2>/dev/null || true
	fi
	[[ -n ${bin:-} && -d $bin ]] && rm -rf "$bin"
}

bench_init() {
	bench_name=$1
	bin=$(mktemp -d "${TMPDIR:-/tmp}/$bench_name.XXXXXX")
	trap bench_cleanup EXIT
	trap 'bench_cleanup; exit 130' INT TERM
}

bench_build() {
	echo "$bench_name: building into $bin" >&2
	(cd "$repo/bench" && go build -o "$bin/" ./cmd/swload ./cmd/peer-gorilla ./cmd/peer-gobwas ./cmd/peer-nbio)
	(cd "$repo" && go build -o "$bin/switchboard" ./cmd/switchboard)
}

widen_ports() {
	local need=$1 lo hi
	read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range
	if (( hi - lo + 1 < need + 1000 )); then
		if [[ -w /proc/sys/net/ipv4/ip_local_port_range ]]; then
			echo "$bench_name: widening net.ipv4.ip_local_port_range from '$lo $hi' to '1024 65535'" >&2
			echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range
		else
			echo "$bench_name: warning: ip_local_port_range '$lo $hi' is narrow for $need connections per source address" >&2
		fi
	fi
}

# server_bin NAME: the binary of a server name.
server_bin() {
	case $1 in
	switchboard-epoll | switchboard-netpoll) echo "$bin/switchboard" ;;
	peer-gorilla | peer-gobwas | peer-nbio) echo "$bin/$1" ;;
	*) echo "$bench_name: unknown server '$1'" >&2; return 2 ;;
	esac
}

# server_flags NAME SCENARIO [SWITCHBOARD-EXTRA]: its --server-args. The chat
# scenarios (fanout, chat) use switchboard's chat at /ws with ?user= names,
# the others its echo endpoint; peers serve both with no flags.
server_flags() {
	local name=$1 scenario=$2 extra=${3:-}
	local sb="serve --auth none"
	[[ $scenario == idle || $scenario == echo || $scenario == handshake ]] && sb="serve --echo --auth none"
	case $name in
	switchboard-epoll) echo "$sb --backend epoll $extra" ;;
	switchboard-netpoll) echo "$sb --backend netpoll $extra" ;;
	*) echo "" ;;
	esac
}

run_swload() {
	"$bin/swload" "$@" &
	swload_pid=$!
	local rc=0
	wait "$swload_pid" || rc=$?
	swload_pid=""
	return "$rc"
}
