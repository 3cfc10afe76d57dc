// Package admin is switchboard's operator listener, kept off the public
// address (default 127.0.0.1:9090): Prometheus metrics at /metrics from a
// registry of its own (never the global one), liveness at /healthz,
// readiness at /readyz, pprof at /debug/pprof/, plus whatever the command
// adds with Handle (/debug/stats, POST /debug/gc).
//
// Readiness is pluggable: each subsystem registers a named check with
// AddCheck (the store's Health today; a Redis ping, say, tomorrow) and
// /readyz answers 503 naming every failing check, or as soon as
// StartDraining is called, so that a load balancer stops sending new
// connections before the server closes its listener.
//
// The collectors here read the engine's and the chat layer's counters
// (engine.Stats, engine.WorkerStats, room.Stats) when Prometheus scrapes:
// the hot paths keep their plain atomic counters and never touch a
// Prometheus metric.
//
// Concurrency: every method is safe for concurrent use.
package admin
