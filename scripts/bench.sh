#!/usr/bin/env bash
# Short benchmark pass: the zero-allocation micro benchmarks, then the idle
# memory run at reduced steps. make bench-idle runs the full memory proof.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Go tarball installs here; a fresh shell may not have it on PATH yet.
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-1s}" ./protocol/ ./engine/
STEPS=${STEPS:-1000,2000,4000} scripts/bench-idle.sh
