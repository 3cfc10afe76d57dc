#!/usr/bin/env bash
# Everything `make test` runs: vet, unit and integration tests with the race
# detector, fuzz seed corpora (they run as ordinary tests), the browser test
# of the chat page (installs chromium when missing), the bench module's own
# tests. Output keeps go test's own lines.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Go tarball installs here; a fresh shell may not have it on PATH yet.
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
scripts/ensure-go.sh
# The browser test in web/ drives Debian's chromium, installed here when
# missing (as root). Without one it fails under CI=true and skips elsewhere.
if SWITCHBOARD_TEST_CHROMIUM=$(scripts/ensure-chromium.sh); then
  export SWITCHBOARD_TEST_CHROMIUM
else
  echo "== no chromium: the browser test will $([ "${CI:-}" = true ] && echo fail || echo be skipped)" >&2
fi
# Screenshots the browser test takes (chat page, dashboard) land here.
export SWITCHBOARD_ARTIFACTS_DIR=${SWITCHBOARD_ARTIFACTS_DIR:-$PWD/bin/artifacts}
# Throwaway PostgreSQL and Redis for the integration tests, stopped on exit.
source scripts/services.sh
services_up
echo "== go vet"
go vet ./...
echo "== go test (race, shuffled)"
go test -race -shuffle=on -count=1 -timeout 15m ./...
echo "== bench module"
(cd bench && go vet ./... && go test -count=1 -timeout 10m ./...)
