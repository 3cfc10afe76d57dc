// Package peer is what the peer servers of the side-by-side benchmarks
// share: the server contract swload drives (--addr, --admin-addr, /healthz,
// /echo, the admin endpoints /debug/stats and /debug/gc, exit on SIGTERM),
// and a minimal chat room hub at /ws for the fan-out scenario.
//
// Three transports serve that contract, one per WebSocket library, each in
// the design its documentation recommends:
//
//   - Gorilla: github.com/gorilla/websocket behind net/http, one goroutine
//     per connection blocked in ReadMessage.
//   - Gobwas: github.com/gobwas/ws upgraded from net/http, one goroutine per
//     connection reading with wsutil, no buffers kept between messages.
//   - Nbio: github.com/lesismal/nbio's nbhttp engine, an epoll poller per
//     core and callbacks on a goroutine pool, no goroutine per connection.
//
// The hub (hub.go) speaks the subset of switchboard's chat protocol that the
// fan-out load generator uses, with the same frame shapes: create → created,
// join → joined {room, seq}, publish {room, id, body} → ack {id, room, seq}
// to the sender and message {room, seq, id, from, body} to every member. It
// is the classic design: a map of rooms, each with a seq counter and a member
// set under its own mutex, and a publish encodes the message once and writes
// it to every member while holding the room's lock, so members see seqs in
// order. It keeps nothing on disk, does not deduplicate retried ids, and has
// no presence, history or auth: it is the cheapest correct fan-out, the
// reference point switchboard's fan-out is compared with.
//
// Concurrency: a Session is driven by one goroutine at a time (its
// connection's reader); Hub and room state is guarded by mutexes whose order
// is Hub.mu before room.mu, never the other way. Sender.Send must be safe for
// concurrent use: a publish on one connection writes to the others.
//
// Buffers: Session.Handle does not keep the message it is given; a frame
// passed to Sender.Send is shared by every member of a room and must not be
// modified by the Sender.
package peer
