#!/usr/bin/env bash
# Builds and runs the server in the foreground with the echo endpoint on.
# ADDR, ADMIN_ADDR and BACKEND override the defaults; extra args go to serve.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Go tarball installs here; a fresh shell may not have it on PATH yet.
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
scripts/ensure-go.sh
mkdir -p bin
go build -o bin/switchboard ./cmd/switchboard
ADDR=${ADDR:-127.0.0.1:8080}
echo "switchboard: chat page at http://$ADDR/, dashboard at http://$ADDR/dashboard, chat protocol at ws://$ADDR/ws?user=NAME, echo at ws://$ADDR/echo; Ctrl-C stops it" >&2
exec bin/switchboard serve --addr "$ADDR" --backend "${BACKEND:-epoll}" --echo --auth "${AUTH:-none}" \
  --admin-addr "${ADMIN_ADDR:-127.0.0.1:9090}" "$@"
