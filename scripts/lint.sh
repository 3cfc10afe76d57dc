#!/usr/bin/env bash
# gofmt, go vet and staticcheck over both modules.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Go tarball installs here; a fresh shell may not have it on PATH yet.
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
bad=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$bad" ]; then echo "gofmt needed:"; echo "$bad"; exit 1; fi
go vet ./...
(cd bench && go vet ./...)
go run honnef.co/go/tools/cmd/staticcheck@latest ./...
(cd bench && go run honnef.co/go/tools/cmd/staticcheck@latest ./...)
