package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
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
