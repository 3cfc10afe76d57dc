#!/usr/bin/env bash
# test-adversarial.sh: the full form of the attack suite in engine/adversarial.
#
# `make test` runs the same tests in their short form (a few hundred sockets
# each). This runs them scaled up: 10,000 slowloris sockets from a helper
# process, floods of thousands of clients, and the slow-consumer measurement
# in a 5,000-member room. Expect 5-10 minutes on 2 cores.
#
# Knobs (environment):
#   RUN      go test -run pattern (default: every test)
#   RACE     1 to run with the race detector (slower; default off, as the
#            full form is about scale, and make test already runs -race)
#   REPORT   where the slow-consumer measurement writes its report
#            (default bench/results/slow-consumers.md; empty: no report)
set -euo pipefail
cd "$(dirname "$0")/.."
# The Go tarball installs here; a fresh shell may not have it on PATH yet.
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
scripts/ensure-go.sh
flags=(-count=1 -timeout 30m -v)
[[ ${RACE:-0} == 1 ]] && flags+=(-race)
[[ -n ${RUN:-} ]] && flags+=(-run "$RUN")
export SWITCHBOARD_ADVERSARIAL=full
export SWITCHBOARD_ADVERSARIAL_REPORT=${REPORT-$PWD/bench/results/slow-consumers.md}
# -v prints every attack's bystander percentiles and heap figures.
go test "${flags[@]}" ./engine/adversarial/ 2>&1 | grep -v '^=== \(RUN\|PAUSE\|CONT\)'
exit "${PIPESTATUS[0]}"
