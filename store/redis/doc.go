// Package redis is the Redis side of a switchboard cluster: a store.Bus
// that relays room traffic between instances (github.com/redis/go-redis/v9)
// and keeps presence across them. It never assigns seq: the shared Store
// (PostgreSQL) does, inside the transaction that stores the message, and
// the bus only carries the stored message to the other instances, which
// order it by seq and refill any gap from the Store.
//
// # Channels
//
// One channel per room, <prefix>room:<room>. An instance subscribes only to
// the rooms with members connected to it, all over one pub/sub connection.
// Subscribe returns once Redis has confirmed the subscription, so a caller
// that subscribes before reading the room's last seq from the Store misses
// nothing published in between. Payloads are framed with their kind and
// origin instance: an instance never receives its own relays back, and
// presence announcements (published by the scripts) reach every instance.
//
// Publishes and presence updates go out from one goroutine, pipelined, in
// the order they were queued; nobody waits for them but SyncPresence. A
// publish that fails is remembered by room, and once Redis answers again
// every subscriber of that room is asked to resync from the Store.
//
// # Outages
//
// When the pub/sub connection fails, Err reports ErrUnavailable (the room
// layer then refuses publishes) and Health fails. The connection is retried
// with back-off (50 ms doubling to 1 s); a new session subscribes every
// wanted room, waits until all are confirmed, and only then reports up and
// asks the handler to resync every room (Resync("")), since anything
// published while it was down was missed. A watchdog pings the connection
// from the heartbeat goroutine and drops it when Redis stays silent.
//
// # Presence
//
// <prefix>online:<room> counts, per user, the instances the user is
// connected to that room on; <prefix>inst:<id>:presence lists what an
// instance counted. Lua scripts change both atomically and publish the
// handler's announcement when a user becomes the first or the last one
// connected anywhere. Each instance refreshes <prefix>inst:<id>:alive (TTL
// Options.TTL, default 30 s) every Options.Heartbeat (default 10 s): one
// write per heartbeat, whatever the number of users. Survivors check the
// registered instances at each heartbeat; the first to find one whose key
// expired runs the sweep script, which takes its users offline, announces
// it, and asks its rooms to resync. After a reconnect, a sweep of itself,
// or a Redis restart that lost the data, an instance re-registers what is
// connected to it (reconcile).
//
// # Rate limit
//
// Charge counts a user's messages locally and answers from the last flush:
// every Options.RateFlush (100 ms) one pipelined round trip adds the
// instance's counts to <prefix>rate:<user>:<window start> (INCRBY, expiring
// after two windows) and learns the cluster's totals; a user over the
// limit is refused on every instance until the window ends. No message
// waits on Redis; the limit can be overshot by what the instances accept
// in one flush interval.
//
// Keys in several rooms are touched by one script, so the server must be a
// single Redis (or a primary with replicas), not Redis Cluster.
//
// # Concurrency
//
// Every exported method is safe for concurrent use. Goroutines: one
// receiving pub/sub, one pipelining, one heartbeat, one flushing rate
// counts, per Bus. Lock order:
// subscriber.mu, then go-redis's PubSub lock; pipeline.mu is a leaf.
// Handler callbacks run without bus locks held.
package redis
