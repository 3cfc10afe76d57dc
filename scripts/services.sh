#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis for the integration tests.
#
#   source scripts/services.sh && services_up   # in a script: exports the URLs,
#                                                # stops both when that shell exits
#   scripts/services.sh COMMAND [ARGS...]       # runs COMMAND with the URLs set
#
# services_up exports SWITCHBOARD_TEST_POSTGRES_URL and SWITCHBOARD_TEST_REDIS_URL.
# Either one already set is used as it is and its server is not started (point
# the tests at servers of your own that way). A missing postgresql or
# redis-server is installed with apt-get when running as root; otherwise the
# exact install command is printed and this fails: a missing service is never
# a silent skip.
#
# Both servers listen on a free loopback port, keep everything in one temp
# dir, and are stopped (and the dir removed) when the shell exits. PostgreSQL
# runs with fsync off: it is thrown away after the run, and the tests check
# behaviour, not durability (scripts/bench-store.sh keeps fsync on).

# pg_bin_dir prints the newest /usr/lib/postgresql/<version>/bin holding
# pg_ctl, or nothing.
pg_bin_dir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && echo "$d"
  return 0
}

# services_install installs the Debian packages named when a binary is
# missing: as root with apt-get, else prints the command and fails.
services_install() {
  local pkgs=("$@")
  [ ${#pkgs[@]} -eq 0 ] && return 0
  local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${pkgs[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "services: ${pkgs[*]} not installed; as root run: $cmd" >&2
    return 1
  fi
  echo "services: installing ${pkgs[*]}" >&2
  # Keep the packages' own daemons (a cluster on 5432, redis on 6379) from
  # starting: the tests start their own.
  local policy=/usr/sbin/policy-rc.d added=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added=1
  fi
  local rc=0
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}"; } >&2 || rc=$?
  [ "$added" = 1 ] && rm -f "$policy"
  if [ "$rc" -ne 0 ]; then
    echo "services: installing ${pkgs[*]} failed (exit $rc); the command was: $cmd" >&2
  fi
  return "$rc"
}

# free_port prints a loopback TCP port nothing listens on now. The caller
# retries if a server loses the race for it.
free_port() {
  local port i
  for i in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "services: no free port found" >&2
  return 1
}

# as_postgres runs a command as the postgres user when root (PostgreSQL
# refuses to run as root), else as ourselves.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

services_down() {
  if [ -n "${_SERVICES_PG_DATA:-}" ]; then
    as_postgres "$_SERVICES_PG_BIN/pg_ctl" -D "$_SERVICES_PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "${_SERVICES_REDIS_PID:-}" ]; then
    kill "$_SERVICES_REDIS_PID" 2>/dev/null || true
    wait "$_SERVICES_REDIS_PID" 2>/dev/null || true
  fi
  if [ -n "${_SERVICES_DIR:-}" ]; then
    rm -rf "$_SERVICES_DIR"
  fi
  _SERVICES_PG_DATA= _SERVICES_REDIS_PID= _SERVICES_DIR=
}

# SERVICES_PG_SETTINGS are the server settings of the throwaway cluster:
# throwaway durability for tests unless the caller (bench-store.sh) says
# otherwise.
: "${SERVICES_PG_SETTINGS:=-c fsync=off -c full_page_writes=off -c synchronous_commit=off}"

# services_start_postgres initialises and starts a cluster under
# $_SERVICES_DIR/pg and exports SWITCHBOARD_TEST_POSTGRES_URL.
services_start_postgres() {
  local dir=$_SERVICES_DIR
  mkdir -p "$dir/pg" "$dir/pgsock"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pg" "$dir/pgsock"
  if ! as_postgres "$_SERVICES_PG_BIN/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 \
    --no-sync >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    echo "services: initdb failed" >&2
    return 1
  fi
  local port try
  for try in 1 2 3 4 5; do
    port=$(free_port) || return 1
    if as_postgres "$_SERVICES_PG_BIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/pgsock \
          -c max_connections=500 $SERVICES_PG_SETTINGS" \
      >/dev/null 2>&1; then
      _SERVICES_PG_DATA=$dir/pg/data
      export SWITCHBOARD_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
      return 0
    fi
  done
  tail -20 "$dir/pg/server.log" >&2
  echo "services: PostgreSQL did not start" >&2
  return 1
}

# services_start_redis starts redis-server without persistence and exports
# SWITCHBOARD_TEST_REDIS_URL.
services_start_redis() {
  local dir=$_SERVICES_DIR/redis port try i
  mkdir -p "$dir"
  for try in 1 2 3 4 5; do
    port=$(free_port) || return 1
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" \
      --logfile "$dir/redis.log" --daemonize no >/dev/null 2>&1 &
    _SERVICES_REDIS_PID=$!
    for i in $(seq 1 100); do
      if ! kill -0 "$_SERVICES_REDIS_PID" 2>/dev/null; then
        break # exited: most likely the port was taken
      fi
      if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
        export SWITCHBOARD_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
        return 0
      fi
      sleep 0.1
    done
    kill "$_SERVICES_REDIS_PID" 2>/dev/null || true
    _SERVICES_REDIS_PID=
  done
  tail -20 "$dir/redis.log" >&2 2>/dev/null || true
  echo "services: redis-server did not start" >&2
  return 1
}

# services_up makes sure both services are installed and running and
# exports their URLs; it installs an EXIT trap that stops them.
services_up() {
  local need_pg=0 need_redis=0 missing=()
  [ -z "${SWITCHBOARD_TEST_POSTGRES_URL:-}" ] && need_pg=1
  [ -z "${SWITCHBOARD_TEST_REDIS_URL:-}" ] && need_redis=1
  if [ "$need_pg" = 1 ] && [ -z "$(pg_bin_dir)" ]; then missing+=(postgresql); fi
  if [ "$need_redis" = 1 ] && ! command -v redis-server >/dev/null 2>&1; then missing+=(redis-server); fi
  services_install "${missing[@]}" || return 1
  [ "$need_pg" = 0 ] && [ "$need_redis" = 0 ] && return 0

  _SERVICES_DIR=$(mktemp -d /tmp/switchboard-services.XXXXXX)
  chmod 755 "$_SERVICES_DIR"
  trap services_down EXIT
  if [ "$need_pg" = 1 ]; then
    _SERVICES_PG_BIN=$(pg_bin_dir)
    services_start_postgres || return 1
    echo "services: PostgreSQL $("$_SERVICES_PG_BIN/postgres" --version | awk '{print $3}') at $SWITCHBOARD_TEST_POSTGRES_URL" >&2
  fi
  if [ "$need_redis" = 1 ]; then
    services_start_redis || return 1
    echo "services: $(redis-server --version | awk '{print $1, $2, $3}') at $SWITCHBOARD_TEST_REDIS_URL" >&2
  fi
}

# Executed rather than sourced: run the command given with the services up.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]   (or: source $0 && services_up)" >&2
    exit 2
  fi
  services_up
  rc=0
  "$@" || rc=$?
  exit "$rc"
fi
