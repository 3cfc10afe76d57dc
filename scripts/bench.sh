#!/usr/bin/env bash
# Short benchmark pass: the zero-allocation micro benchmarks, then the idle
# memory run at reduced steps. make bench-idle runs the full memory proof.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-1s}" ./protocol/ ./engine/
STEPS=${STEPS:-1000,2000,4000} scripts/bench-idle.sh
