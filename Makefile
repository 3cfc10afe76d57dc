# Thin wrappers over scripts/: the scripts hold the logic.
.PHONY: run test test-adversarial soak bench bench-full bench-idle bench-handshake bench-echo bench-fanout bench-chat bench-store fuzz lint build

run:
	scripts/run.sh

test:
	scripts/test.sh

test-adversarial:
	scripts/test-adversarial.sh

soak:
	scripts/soak.sh

bench:
	scripts/bench.sh

bench-full:
	scripts/bench-full.sh

bench-idle:
	scripts/bench-idle.sh

bench-handshake:
	scripts/bench-handshake.sh

bench-echo:
	scripts/bench-echo.sh

bench-fanout:
	scripts/bench-fanout.sh

bench-chat:
	scripts/bench-chat.sh

bench-store:
	scripts/bench-store.sh

fuzz:
	scripts/fuzz.sh

lint:
	scripts/lint.sh

build:
	go build -o bin/switchboard ./cmd/switchboard
