// Package fanout is the "fanout" scenario of swload: one chat room with
// many members and a few publishers, measuring how many deliveries per
// second switchboard makes at what publish→deliver latency and CPU cost, and
// whether every member saw every seq exactly once.
//
// Shape of a repetition (package runner runs them; Config.rep in
// controller.go is fanout's part): the server starts on fresh ports, one
// setup connection creates the rooms, and --clients worker processes
// (RunWorker, worker.go, re-executed as `swload fanout-worker`) start,
// each on its own loopback source address with its share of the members
// and of the publishers in its flags. A worker dials, hands the sockets to
// one epoll loop (loop.go), sends every connection's `join` and reports
// "ready" once each has its `joined` answer and the join traffic has gone
// quiet. Every worker starts at one wall-clock instant; publishers then
// publish open loop at their share of --rate with the due time in the body,
// members time each `message` against it, check its seq and count it. The
// server's and workers' CPU is measured at the window's edges, and the
// workers' histograms and counters are merged into a Rep (result.go).
//
// Only switchboard speaks the chat protocol, so there is no peer server in
// this scenario; reports compare switchboard's backends.
//
// Concurrency: the controller is one goroutine plus one reader per worker
// stdout. A worker runs one event loop goroutine and, before the run, a
// bounded number of dialing goroutines; never a goroutine per connection.
// The loop owns its epoll fd, timerfd, connections and buffers.
//
// Buffers: a connection's read buffer holds at most one incomplete frame
// between reads; payloads are scanned in place (no JSON decoding of
// `message` frames, see scan.go) and never kept.
package fanout
