// Package store defines the storage the chat layer (package room) uses, split
// by concern into small interfaces composed in Store: Rooms, Memberships,
// Messages, ReadCursors and Invites. It knows nothing of connections.
//
// Backends: store/memory is the embedded default (make run needs nothing
// else); store/postgres (rooms, memberships, messages, cursors, invites, with
// batched group commit) is the store instances share. store/storetest is the
// conformance suite every backend runs, so the room layer can rely on the
// rules written on each method rather than on one backend's behaviour.
//
// AsyncAppender is optional: a backend whose Append waits on a group
// commit (store/postgres) offers AppendAsync, which hands the message over
// and reports the result to a callback, so one goroutine can keep many
// appends in flight; store/memory offers it too (completing at once), and
// store/instrumented passes it through. The same rules hold for its
// results as for Append's.
//
// Bus (bus.go) is the other half of running several instances: it relays
// stored messages and events between them and keeps presence across them,
// but never assigns seq (the Store does). store/redis implements it.
//
// # Rules that hold for every backend
//
//   - Each room's messages get seq 1, 2, 3, ... assigned by the store at
//     Append time: monotonic and gapless. A message is identified for
//     retries by (room, from, id); appending it again returns the stored
//     message with duplicate=true and never a second seq.
//   - An Append (or AppendBatch) that returned without error is as durable
//     as the backend makes it: the room layer may ack it. Any error means
//     "not known to be stored": never ack; a retry with the same id is safe.
//   - Retention may trim the oldest messages of a room. Since never skips
//     silently: it returns *TrimmedError and the room layer sends reset.
//   - Times (Message.TS, Room.CreatedAt, Member.Joined, Invite.Expires) are
//     UTC with microsecond precision (the store truncates what it is given),
//     so every backend reads back exactly what it stored; a room's TS never
//     decreases as seq grows.
//   - The store enforces data rules (ids, roles are valid; things exist)
//     but no policy: who may publish, invite, change roles or kick is the
//     room layer's decision, made before calling the store.
//
// # Errors
//
// ErrNotFound, ErrExists, ErrInvalid and ErrUnavailable are sentinels,
// always wrapped with context (use errors.Is); *TrimmedError is returned by
// Messages.Since (use errors.As). A method whose ctx is already done returns
// an error wrapping ctx.Err() and changes nothing. Each method's comment
// names the errors it returns beyond those.
//
// # Concurrency and buffers
//
// Every Store is safe for concurrent use by many goroutines. A Message passed
// to Append (or AppendAsync) is borrowed only for the call: the store
// copies Body. A
// Message.Body the store returns may be shared with the store and with other
// callers: treat it as read-only and never modify it.
package store
