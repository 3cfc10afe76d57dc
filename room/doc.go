// Package room is the chat layer served at /ws: rooms (public, private,
// invite links), roles (owner, admin, member), publish with per-room seq and
// ack, history pages, join with the last messages or a gapless replay from
// a seq, presence, typing and read receipts. It talks to connections only
// through the engine (engine.App, Conn writes, Engine.Submit) and to storage
// only through store.Store; it never touches a socket.
//
// # Concurrency
//
// A connection's session is touched only on that connection's worker: the
// engine runs its callbacks there, and fan-out to it is submitted there.
// Live rooms sit in a sharded registry; each has one mutex for its member
// lists (copy-on-write, one per worker) and its delivery order. Lock order:
// registry shard, then live room; engine.Submit may be called under the live
// room's lock.
//
// # Order and gaps
//
// The store assigns seq. A publish parks its stored message in the live room
// until every lower seq has been handed to fan-out, so delivery order is seq
// order even with publishers on different workers. Fan-out to a member runs
// on that member's worker after work already queued there, so a join (also
// on that worker) reads the store up to the last seq handed to fan-out and
// receives everything later live: no gap, no duplicate, no buffering.
//
// # Buffers
//
// A message is encoded once into a reference-counted engine.Frame that
// every recipient shares. Client frames are borrowed from the engine; a body
// kept for the store is copied first.
//
// # Stats and shutdown
//
// Service.Stats reports publishes, fan-out deliveries and drops, and the
// publish-to-ack latency histogram, from atomics: one add per fan-out task
// (per worker), never per recipient. As an engine.Drainer, the Service
// sends each client a goaway frame with its reconnect delay at shutdown.
package room
