// Package memory is the embedded default store.Store: everything in process
// memory, nothing survives a restart. It is what make run uses, and the
// reference the conformance suite (store/storetest) is written against.
//
// # Concurrency
//
// Safe for concurrent use. Rooms live in a sharded map (the shard lock is
// held only to find or insert a room); each room has its own lock for its
// members, read cursors and message log, so appends to different rooms never
// contend. A second sharded map indexes rooms by member for ListRooms. The
// lock order is written where the locks are declared (Store, room).
//
// # Retention
//
// Each room keeps its newest Options.MaxMessagesPerRoom messages in a ring;
// appending past that trims the oldest, and Since from before the oldest
// kept seq returns *store.TrimmedError. The idempotency index (room, from,
// id) -> seq covers exactly the messages kept, so it is bounded the same
// way. Limitation: a retry of a message already trimmed is not recognised
// and is stored again under a new seq. With the default 10,000 per room a
// retry would have to arrive after 10,000 newer messages in that room.
//
// Memory: a kept message costs about 100 bytes plus its body, and a room's
// ring grows by doubling only as its history does, so a full default room
// holds about 1 MB plus bodies. Size MaxMessagesPerRoom for the number of
// busy rooms expected.
//
// Rooms, memberships, cursors and unexpired invites are not bounded: the
// room layer's limits (room count per user, rate limits) bound them.
//
// # Buffers
//
// Append copies Message.Body; the caller's slice is only borrowed. Messages
// returned by Append, AppendBatch, History and Since share their Body with the
// store's copy: callers must treat it as read-only (store package rule).
package memory
