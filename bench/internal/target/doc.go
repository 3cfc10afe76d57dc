// Package target is swload's side of the server contract (bench/README.md):
// pick free loopback ports for --addr and --admin-addr, wait for /healthz,
// and talk to the admin address (/debug/stats, /debug/gc). Starting and
// stopping the process itself is package proc's job.
//
// Concurrency: Admin is safe for concurrent use; the functions hold no
// state.
package target
