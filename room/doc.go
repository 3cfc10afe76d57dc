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
// # Publishing
//
// With a store that appends asynchronously (store.AsyncAppender: the
// PostgreSQL store, and the memory store, which completes at once) a
// publish does not wait on the worker for the store. The handler checks
// membership and the bus, the limits having been charged on arrival, and
// hands the message over with its own StoreTimeout deadline; it returns at
// once, so the worker serves its other connections while the commit runs,
// and the store's group commit collects the publishes of every connection
// into one transaction. The store's completion (on the store's goroutine)
// only submits a task to the sender's worker; that task acks (or sends the
// error frame, unavailable for a store outage), then hands the message to
// fan-out and to the bus, in that order, so the sender still sees its ack
// before its own message. Fan-out looks the room up again: the sender may
// have left, or closed, meanwhile; the message is still delivered to the
// others and relayed. One connection's publishes to one room are handed
// over in order and the store completes them in that order, so they get
// seqs and acks in send order; across rooms, and relative to the answers
// to other requests, acks may come later than they were asked for.
// Config.MaxPublishesInFlight (64) caps one connection's publishes in the
// store: the one over is answered rate_limited, so memory stays bounded.
// Service.Close waits (up to StoreTimeout) for the publishes still in the
// store before closing it; a completion handed to a worker the engine has
// already stopped is dropped, like an instance stopped between store and
// fan-out: the message is stored, other instances fetch it from the store
// when a later seq shows the gap. A result given before AppendAsync
// returns (the memory store, an error decided at once) is answered in the
// handler itself, as a synchronous Append would be; a store without
// AppendAsync is called with Append on the worker.
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
// # Several instances
//
// With Config.Bus (store/redis) instances share one Store (PostgreSQL) and
// relay through Redis; without it (nil) the Service is a single instance
// and nothing below applies.
//
// The store assigns seq, never Redis: PostgreSQL does it inside the append
// transaction under the room's row lock, so per room commit order is seq
// order across instances, and a seq visible in the store implies every
// lower one is committed. Redis carries publication only. After the
// commit, the publishing instance delivers locally as before and publishes
// the encoded message (seq, frame) on the room's channel; the other
// instances with members in that room are subscribed to it and hand it to
// their local fan-out through the same parked/next order, dropping what
// they already have (seq < next: the publisher's own echo never comes back,
// and a message both relayed and refilled is delivered once).
//
// Nothing relayed is trusted to be complete. A gap (a later seq parked,
// next missing) that lasts Config.GapTimeout (200 ms; checked by one ticker
// per Service, never a timer per connection or room), a resync notice
// from the bus (a publisher whose relay failed, or a survivor sweeping a
// dead instance), and every Redis reconnect make the Service refill the
// room from store.Since, so members never see a gap (one refiller per
// Service, up to 8 rooms at a time; Stats.Cluster counts what crossed the
// bus and what the store made up for). Seq in Redis (an INCR
// plus publish, as first planned) was rejected on purpose: a crash between
// the INCR and the durable write leaves a permanent hole, and a Redis
// restart without persistence resets the counter.
//
// Joining across instances: the first join of a room on an instance
// subscribes to its channel and waits for Redis to confirm the
// subscription before reading the room's last seq from the store, so a
// message stored by another instance in between is either below next or
// arrives on the channel. While Redis is down, publishes answer
// unavailable without touching the store (an acked message must reach
// every instance); joins still work from the store, and the rooms are
// subscribed and refilled when Redis is back.
//
// Typing, read receipts, presence status changes, role changes and kicks
// are relayed as events (a kick also makes the victim's connections on
// every instance leave). Presence online/offline is counted across
// instances by the bus: a user is announced online when their first
// connection to the room anywhere arrives and offline when the last one
// anywhere goes, joined.online and members pages count the cluster, and a
// dead instance's users go offline when a survivor sweeps it (one TTL,
// 30 s by default, after its last heartbeat).
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
