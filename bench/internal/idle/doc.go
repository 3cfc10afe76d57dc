// Package idle is the "idle" scenario of swload: how much memory and CPU a
// WebSocket server spends per connection that does nothing.
//
// Shape of a run: the controller (Run) starts the server under test and N
// worker processes (RunWorker, re-executed as `swload idle-worker`) in one
// runner.Session, each worker bound to its own loopback source address so
// no process nears the fd limit and no source address runs out of ports.
// Unlike the repetition-based scenarios, one server serves every step, and
// the controller drives the workers over a JSON-lines protocol of its own
// on their stdin/stdout (wire.go): it ramps them to each step's total,
// waits until the server itself reports the count, lets it settle,
// measures CPU over a window, forces a GC in the server, and samples /proc
// and the server's /debug/stats (sample.go).
// Least-squares fits and a projection to 1M connections (result.go) go into
// <out>.json and <out>.md (report.go); Combine (combined.go) puts several
// runs side by side with an SVG plot.
//
// Concurrency: the controller is one goroutine apart from one reader per
// worker stdout. A worker has one reader goroutine per held connection
// (client memory is not what is measured) and handles commands one at a
// time.
package idle
