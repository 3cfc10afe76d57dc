// Package echo is the "echo" scenario of swload: how many messages per
// second a WebSocket server echoes, at what round-trip latency and at what
// CPU cost, under identical load for every server compared.
//
// Shape of a run: package runner runs the repetitions, each against the
// server under test started afresh on fresh ports, with N worker processes
// (RunWorker, worker.go, re-executed as `swload echo-worker`), each bound to
// its own loopback source address and given its share of the connections
// and of the open-loop rate in its flags. What is echo's own: the load and
// its checks (controller.go), the workers' event loops (loop.go), the
// report (wire.go) and the metrics. Workers dial, hand the sockets to their
// event loops and report "ready"; the repetition (Config.rep) checks the
// server's own connection count, starts every worker at one wall-clock
// instant, has the server's and workers' CPU measured over the window and
// the server's RSS at its end, and merges the workers' latency histograms
// (package hist) into a Rep. summarize (result.go) and the reports
// (report.go, and combined.go through package compare) turn repetitions
// into medians, spreads and ratios.
//
// Concurrency: the controller is one goroutine apart from one reader per
// worker stdout. A worker runs one goroutine per event loop (--loops, 1 by
// default) and a bounded number of dialing goroutines before the run; it
// never has a goroutine per connection. An event loop owns its epoll fd, its
// timerfd, its connections and their buffers; nothing else touches them
// until the loop has returned.
//
// Buffers: every send writes the same precomputed masked frame, which no
// one modifies. A connection's read buffer holds at most one incomplete
// frame between reads; a frame's payload is looked at in place and never
// kept.
package echo
