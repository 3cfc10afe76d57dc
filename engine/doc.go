// Package engine turns poller events into WebSocket connections and runs
// applications on them. It owns the connection table, the fixed worker pool,
// each connection's state machine (handshake, open, closing, closed),
// bounded outbound queues and slow-consumer eviction, the timing wheels
// (handshake deadline, keepalive ping, dead-peer and idle timeouts),
// admission control and graceful shutdown. It knows nothing of rooms: an App
// registered with Engine.Handle gets whole messages.
//
// # Concurrency
//
// Read side: the event loop that owns a socket parses its bytes in place
// (protocol.HandshakeParser, protocol.Reader) and never blocks. Each
// complete message is handed to the worker pool; the worker is chosen by
// connection id, so one connection's messages are handled in order. A full
// worker queue parks the message on its connection and pauses reading that
// connection (backpressure); it never starts a goroutine.
//
// Write side: any goroutine may write to a Conn. Conn.wmu makes one writer at
// a time; writes go straight to the socket while its buffer has room, and
// the rest waits in the connection's outbound queue until the poller reports
// the socket writable. A queue over Config.OutboundBudget closes the
// connection with protocol.StatusSlowConsumer.
//
// Timers: one timing wheel per event loop, all driven by one clock
// goroutine. A connection is in at most one live wheel slot at a time, so
// the goroutine count is a function of Loops and Workers only.
//
// Lock order: Conn.wmu, then the poller conn's lock (inside Conn.Write);
// taskQueue.mu and the connection-table shard locks are leaves; the timing
// wheel's lock is released before any check runs.
//
// # Buffers
//
// The bytes handed to App.OnMessage are borrowed: they belong to a pooled
// buffer that returns to the pool when OnMessage returns. A message being
// assembled from fragments holds a pooled buffer only until it is complete;
// a connection mid-handshake holds a pooled request buffer until the request
// is parsed. An idle open connection holds no buffer at all. Frame values are
// reference-counted so one encoded broadcast is shared by every recipient.
//
// # Counters and shutdown
//
// Stats and WorkerStats are plain atomics (and each worker queue's own
// lock) read by whoever asks, e.g. a Prometheus collector at scrape time;
// the hot paths never call a metrics library. A worker reads the clock only
// when it goes idle or wakes, which is how its busy time costs nothing per
// task. Shutdown closes every connection with 1001 and a reason naming a
// reconnect delay jittered over Config.ReconnectWindow; an App that
// implements Drainer writes its own goodbye first.
package engine
