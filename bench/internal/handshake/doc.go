// Package handshake is the "handshake" scenario of swload: connection
// churn. Every connection is dialed, upgraded, sends one message, reads its
// echo and closes with a close handshake; the scenario measures completed
// connections per second, the upgrade latency (TCP connect + HTTP upgrade
// until the 101 is read) and the whole cycle's latency, at what server CPU,
// and checks that the server lets go of every connection afterwards.
//
// Shape of a repetition (package runner runs them; Config.rep in
// controller.go is handshake's part): the server starts on fresh ports;
// --clients worker processes (RunWorker, worker.go, re-executed as `swload
// handshake-worker`), each on its own loopback source address, run their
// share of --concurrency churning goroutines from one agreed wall-clock
// start. Closed loop by default: each goroutine starts its next
// connection when the last one is done. With --rate the workers start
// connections open loop at fixed intervals and time each from when it was
// due, so a server that stalls cannot hide it by slowing the clients
// (coordinated omission); a due connection waits for a free goroutine.
// The controller samples CPU at the window's edges, merges the workers'
// histograms (package hist) into a Rep and, after the run, waits for the
// server's own count to return to zero.
//
// Concurrency: the load generator uses a goroutine per in-flight
// connection here (a connection lives for one message); the controller is
// one goroutine plus a reader per worker.
package handshake
