// Package postgres is the PostgreSQL store.Store (github.com/jackc/pgx/v5,
// pgxpool): users, rooms, memberships with roles, revocable invites,
// messages and read cursors survive restarts and are shared by every
// instance pointed at the same database.
//
// # Schema and migrations
//
// The schema is a list of embedded, numbered SQL files (migrations/). Open
// applies the missing ones in one transaction under a transaction-scoped
// advisory lock, recording each in schema_migrations, so instances starting
// together apply each step exactly once; `switchboard migrate` does the same
// on its own (Migrate) for operators who migrate with a privileged role and
// serve with Options.SkipMigrations. A database newer than the build is
// left alone.
//
// # Seqs: gapless, and commit order is seq order
//
// Each room has a row in room_seqs holding its last assigned seq. Messages
// are stored by functions the migrations create, one statement and one
// transaction per batch. The common path, switchboard_append_grouped, gets
// the batch grouped by room and numbered by the client (each message's
// offset among its room's messages) and, in one UPDATE, advances each
// room's last_seq by its count (taking the row lock, in room id order: two
// batches sharing rooms queue rather than deadlock, and the UPDATE reads
// the row as the previous holder committed it), then inserts every message
// at old last_seq + offset and returns one row per room. It reads no
// message (TestAppendGroupedReadsNoMessages): a message stored already is
// caught by the unique (room, sender, client id) index, which fails the
// whole statement with nothing written, and the batch goes again through
// switchboard_append. That one locks the rooms the same way, then, on a
// snapshot taken after the locks were granted, looks every (room, sender,
// client id) up through that unique index (one index probe per message,
// however large the room; TestAppendDedupUsesUniqueIndex holds the plan to
// it), numbers the messages not stored yet in input order, inserts them and
// writes last_seq back. Either way a retry never burns a seq, and the
// client's numbering is checked, not trusted (offsets must be exactly
// 1..count in each room, or the call fails and stores nothing).
//
// Because the room's row lock is held from before its seqs are chosen until
// after the transaction commits and is visible (PostgreSQL releases row
// locks only after a commit is visible), the next transaction of that room
// numbers after it and becomes visible after it. So, per room and across
// instances:
//
//   - seqs are 1, 2, 3, ... with no gap (an aborted transaction assigns
//     nothing), and
//   - commit order is seq order: whoever sees seq N committed also sees
//     every lower seq of that room. A reader that has seq N and reads
//     Since(N) gets N+1 next or nothing yet, never N+2 first.
//
// The Redis fan-out relies on exactly this: Redis carries publications only,
// and a subscriber that misses one refills it from PostgreSQL by seq.
//
// Since reads last_seq and the page in one statement (one snapshot); a
// missing after+1 below last_seq therefore means it was deleted (an
// operator purge), and Since returns *store.TrimmedError. The store itself
// never trims.
//
// # Group commit
//
// Append hands its message to a committer and waits for the commit that
// holds it; it returns only after that commit (and the server's fsync, with
// synchronous_commit on) — the room layer acks only then. There are
// Options.Committers committer goroutines (by default one per 2 CPUs, 1 to
// 4: every commit costs the server a fixed share of CPU, so fewer, fuller
// commits go further when CPU is short), each owning the rooms that hash
// to it and a queue bounded by Options.MaxBatch: a committer takes every
// request queued (up to MaxBatch) into one append statement, so
// while one commit waits for the disk the next batch builds up. Sharding
// by room keeps one instance from queueing two transactions on one room's
// lock; committers of different rooms run side by side and PostgreSQL
// flushes their commits together. No goroutine per message. AppendAsync
// (store.AsyncAppender) queues the same way without waiting: the
// committer hands the result to its callback after the commit, so one
// caller goroutine can keep many messages in a batch; close fails what is
// still queued with ErrUnavailable. CommitStats reports commits and
// messages committed (mean batch size). AppendBatch
// goes straight to one append statement on the caller's goroutine.
// A message whose client id or sender PostgreSQL text cannot hold (NUL,
// invalid UTF-8) fails alone with store.ErrInvalid before it can fail a
// batch.
//
// # Reads
//
// History and Since walk the (room, seq) primary key, at most 10,000 rows
// per call whatever the limit (more says whether to go on). ListRooms merges
// two index walks (public rooms by id, the user's memberships by room id).
// MemberCount counts the membership index.
//
// # Failures
//
// Every call runs under a client-side deadline of Options.StatementTimeout
// plus Options.ConnectTimeout, and every statement under the server's
// statement_timeout; a session idle inside a transaction for twice the
// statement timeout is ended by the server, so a stalled client cannot pin
// a room's lock. A down, slow or unreachable database turns into errors
// wrapping store.ErrUnavailable, never a false success; after a failed
// connection attempt, calls fail fast for Options.ReconnectBackoff instead
// of each dialling. Health always pings, so /readyz sees recovery at once.
// The pool reconnects by itself: no restart is needed when the database
// returns. A done caller ctx is reported as ctx.Err(); an Append whose ctx
// ends while its batch is in flight may or may not be stored (retry with
// the same id to find out).
//
// # Concurrency and buffers
//
// Safe for concurrent use. Append, AppendAsync and AppendBatch copy
// Message.Body before
// returning or queueing; bodies returned are the store's own (read-only).
package postgres
