// Package poller owns sockets and readiness: it accepts TCP connections,
// runs a small fixed set of event loops, reads without blocking, writes with
// writev without blocking, and owns every file descriptor's lifetime. It
// knows nothing of WebSocket.
//
// Two backends sit behind one interface (Poller, Conn, Handler) and pass one
// shared test suite (suite_test.go):
//
//   - epoll: golang.org/x/sys/unix directly. One loop per core, each with its
//     own epoll instance, SO_REUSEPORT listener, 64 KiB read buffer and
//     eventfd for tasks posted from other goroutines. Level-triggered.
//   - netpoll: github.com/cloudwego/netpoll for accept and read readiness,
//     with its buffers tuned down; writes bypass netpoll's buffers and go
//     straight to the fd.
//
// # Concurrency
//
// Handler callbacks for a connection run on the loop that owns it and never
// overlap. They must not block. Conn methods are safe from any goroutine;
// Conn.Write must have a single caller at a time (the engine serialises it).
// Only the owning loop closes a file descriptor; Conn.Close from elsewhere
// asks the loop to, and Write holds the Conn's lock so it can never write to
// a descriptor number that was closed and reused.
//
// # Buffers
//
// The loop's read buffer belongs to the loop: the data slice given to
// Handler.OnData is borrowed until OnData returns. Bytes OnData does not
// consume are copied into a per-connection spill buffer, taken from a
// size-classed pool and given back as soon as it is empty, so an idle
// connection holds no buffer. Conn.Write reads the caller's slices only
// during the call.
package poller
