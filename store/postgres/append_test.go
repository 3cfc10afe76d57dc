package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/switchboard-chat/switchboard/store"
)

// TestAppendDedupUsesUniqueIndex holds switchboard_append's duplicate
// lookup to the (room, sender, client id) index: appending to a room must
// not read the room's stored messages. Schema version 1 took the (room,
// seq) key in its cached plan and read every message of the room for each
// one appended. Both a session that planned the function while messages
// was empty and one that plans it now, with a large room stored, are
// checked, through the per-transaction table statistics.
func TestAppendDedupUsesUniqueIndex(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	if _, err := s.CreateRoom(ctx, store.Room{ID: "big", CreatedBy: "owner"}); err != nil {
		t.Fatal(err)
	}
	early, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Release()
	dedupFetches(t, early, "early-0", 1) // plans the function on an empty table

	const stored = 2000
	ms := make([]store.Message, stored)
	for i := range ms {
		ms[i] = store.Message{Room: "big", From: "filler", ID: fmt.Sprint(i), Body: []byte(`{}`)}
	}
	if _, err := s.AppendBatch(ctx, ms); err != nil {
		t.Fatal(err)
	}
	// A new session, so its plan is made now.
	late, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close(context.WithoutCancel(ctx))
	for name, conn := range map[string]beginner{"early": early, "late": late} {
		const batch = 20
		if fetched := dedupFetches(t, conn, name, batch); fetched > batch {
			t.Errorf("%s session: appending %d messages to a room of %d fetched %d messages by index, want at most %d",
				name, batch, stored, fetched, batch)
		}
	}
}

// beginner is a session: a pool's connection or one of its own.
type beginner interface {
	Begin(context.Context) (pgx.Tx, error)
}

// dedupFetches appends n new messages to room big by switchboard_append in
// a transaction it rolls back, and returns how many messages rows index
// scans fetched in it.
func dedupFetches(t *testing.T, conn beginner, prefix string, n int) int64 {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	rooms, froms, ids, bodies := make([]string, n), make([]string, n), make([]string, n), make([][]byte, n)
	for i := range n {
		rooms[i], froms[i], ids[i], bodies[i] = "big", "probe", fmt.Sprintf("%s-%d", prefix, i), []byte(`{}`)
	}
	rows, err := tx.Query(ctx, appendSQL, rooms, froms, ids, bodies)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		got++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("switchboard_append answered %d rows, want %d", got, n)
	}
	var fetched int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables WHERE relname = 'messages'`).Scan(&fetched); err != nil {
		t.Fatal(err)
	}
	return fetched
}

// TestAppendStoredMessageTakesTheCheckedPath: a batch holding a retry of a
// stored message fails switchboard_append_grouped as a whole and goes again
// through switchboard_append, which answers the retry as a duplicate (its
// stored seq and body) and numbers the new messages with no gap. A batch of
// new messages afterwards takes the grouped path again, and a message for a
// room that does not exist fails alone on either path.
func TestAppendStoredMessageTakesTheCheckedPath(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		if _, err := s.CreateRoom(ctx, store.Room{ID: id, CreatedBy: "owner"}); err != nil {
			t.Fatal(err)
		}
	}
	first := msg("a", "ann", "1")
	if _, err := s.AppendBatch(ctx, []store.Message{first, msg("b", "bob", "1")}); err != nil {
		t.Fatal(err)
	}
	if n := s.dedupRetries.Load(); n != 0 {
		t.Fatalf("new messages took the checked path %d times", n)
	}

	retry := first
	retry.Body = []byte(`{"text":"changed"}`)
	batch := []store.Message{msg("a", "ann", "2"), retry, msg("nosuch", "ann", "1"), msg("b", "bob", "2"), msg("a", "cat", "1")}
	res, err := s.AppendBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.dedupRetries.Load(); n != 1 {
		t.Fatalf("a batch with a stored message took the checked path %d times, want 1", n)
	}
	checkResults(t, res, []wantResult{{seq: 2}, {seq: 1, dup: true, body: first.Body}, {notFound: true}, {seq: 2}, {seq: 3}})

	res, err = s.AppendBatch(ctx, []store.Message{msg("b", "bob", "3"), msg("nosuch", "x", "1"), msg("a", "ann", "3")})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.dedupRetries.Load(); n != 1 {
		t.Fatalf("new messages took the checked path (%d times in all)", n)
	}
	checkResults(t, res, []wantResult{{seq: 3}, {notFound: true}, {seq: 4}})
	for room, want := range map[string]uint64{"a": 4, "b": 3} {
		msgs, _, err := s.Since(ctx, room, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range msgs {
			if m.Seq != uint64(i+1) {
				t.Fatalf("room %s: message %d has seq %d", room, i, m.Seq)
			}
		}
		if uint64(len(msgs)) != want {
			t.Fatalf("room %s holds %d messages, want %d", room, len(msgs), want)
		}
	}
}

type wantResult struct {
	seq      uint64
	dup      bool
	body     []byte
	notFound bool
}

func checkResults(t *testing.T, got []store.AppendResult, want []wantResult) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		switch {
		case w.notFound:
			if !errors.Is(g.Err, store.ErrNotFound) {
				t.Errorf("result %d: err %v, want not found", i, g.Err)
			}
		case g.Err != nil:
			t.Errorf("result %d: %v", i, g.Err)
		case g.Message.Seq != w.seq || g.Duplicate != w.dup:
			t.Errorf("result %d: seq %d duplicate %v, want seq %d duplicate %v", i, g.Message.Seq, g.Duplicate, w.seq, w.dup)
		case w.body != nil && string(g.Message.Body) != string(w.body):
			t.Errorf("result %d: body %s, want the stored %s", i, g.Message.Body, w.body)
		}
	}
}

// TestAppendGroupedRefusesBadOffsets: switchboard_append_grouped checks the
// client's numbering rather than trusting it, so a wrong one can neither
// leave a gap nor reuse a seq: the call fails and stores nothing.
func TestAppendGroupedRefusesBadOffsets(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	if _, err := s.CreateRoom(ctx, store.Room{ID: "a", CreatedBy: "owner"}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ counts, offsets []int32 }{
		"gap":            {[]int32{2}, []int32{1, 3}},
		"repeat":         {[]int32{2}, []int32{1, 1}},
		"not from 1":     {[]int32{2}, []int32{2, 3}},
		"count too high": {[]int32{3}, []int32{1, 2}},
		"count too low":  {[]int32{1}, []int32{1, 2}},
	}
	for name, c := range cases {
		n := len(c.offsets)
		roomOf, froms, ids, bodies := make([]int32, n), make([]string, n), make([]string, n), make([][]byte, n)
		for i := range n {
			roomOf[i], froms[i], ids[i], bodies[i] = 1, "ann", fmt.Sprintf("%s-%d", name, i), []byte(`{}`)
		}
		rows, err := s.pool.Query(ctx, appendGroupedSQL, []string{"a"}, c.counts, roomOf, c.offsets, froms, ids, bodies)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "22023" {
			t.Errorf("%s: err %v, want invalid_parameter_value (22023)", name, err)
		}
	}
	if last, err := s.LastSeq(ctx, "a"); err != nil || last != 0 {
		t.Fatalf("after refused calls: last seq %d, %v; want 0", last, err)
	}
}

// TestAppendGroupedReadsNoMessages: the grouped path inserts without
// reading messages, however large the room.
func TestAppendGroupedReadsNoMessages(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	if _, err := s.CreateRoom(ctx, store.Room{ID: "big", CreatedBy: "owner"}); err != nil {
		t.Fatal(err)
	}
	ms := make([]store.Message, 2000)
	for i := range ms {
		ms[i] = store.Message{Room: "big", From: "filler", ID: fmt.Sprint(i), Body: []byte(`{}`)}
	}
	if _, err := s.AppendBatch(ctx, ms); err != nil {
		t.Fatal(err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	const n = 20
	roomOf, offsets, froms, ids, bodies := make([]int32, n), make([]int32, n), make([]string, n), make([]string, n), make([][]byte, n)
	for i := range n {
		roomOf[i], offsets[i], froms[i], ids[i], bodies[i] = 1, int32(i+1), "probe", fmt.Sprint(i), []byte(`{}`)
	}
	var base int64
	if err := tx.QueryRow(ctx, `SELECT o_base FROM switchboard_append_grouped($1, $2, $3, $4, $5, $6, $7)`,
		[]string{"big"}, []int32{n}, roomOf, offsets, froms, ids, bodies).Scan(&base); err != nil {
		t.Fatal(err)
	}
	if base != 2000 {
		t.Fatalf("base %d, want 2000", base)
	}
	var fetched int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) FROM pg_stat_xact_user_tables WHERE relname = 'messages'`).Scan(&fetched); err != nil {
		t.Fatal(err)
	}
	if fetched != 0 {
		t.Fatalf("appending %d messages read %d stored messages, want 0", n, fetched)
	}
}
