# Thin wrappers over scripts/: the scripts hold the logic.
.PHONY: run test bench bench-idle bench-echo bench-fanout bench-store fuzz lint build

run:
	scripts/run.sh

test:
	scripts/test.sh

bench:
	scripts/bench.sh

bench-idle:
	scripts/bench-idle.sh

bench-echo:
	scripts/bench-echo.sh

bench-fanout:
	scripts/bench-fanout.sh

bench-store:
	scripts/bench-store.sh

fuzz:
	scripts/fuzz.sh

lint:
	scripts/lint.sh

build:
	go build -o bin/switchboard ./cmd/switchboard
