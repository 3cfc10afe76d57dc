package postgres

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-chat/switchboard/store"
)

// historySQL and sinceSQL read the room's last seq and one page of its
// messages in one statement, so both come from one snapshot; the room's row
// comes back even when the page is empty (no row at all: no such room).
const (
	historySQL = `
		SELECT q.last_seq, m.seq, m.client_id, m.sender, m.body, m.ts
		FROM rooms r JOIN room_seqs q ON q.pk = r.pk
		LEFT JOIN LATERAL (
			SELECT seq, client_id, sender, body, ts FROM messages
			WHERE room_pk = r.pk AND seq < $2 ORDER BY seq DESC LIMIT $3) m ON true
		WHERE r.id = $1`
	sinceSQL = `
		SELECT q.last_seq, m.seq, m.client_id, m.sender, m.body, m.ts
		FROM rooms r JOIN room_seqs q ON q.pk = r.pk
		LEFT JOIN LATERAL (
			SELECT seq, client_id, sender, body, ts FROM messages
			WHERE room_pk = r.pk AND seq > $2 ORDER BY seq LIMIT $3) m ON true
		WHERE r.id = $1`
)

// roomRows runs a query whose every row carries the room, with a LEFT
// JOIN LATERAL page beside it (empty page: one row of NULLs), and calls
// each per row. No row at all means no such room.
func (s *Store) roomRows(ctx context.Context, room string, each func(pgx.Rows) error, sql string, args ...any) error {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		found = true
		if err := each(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if !found {
		return notFound("room", room)
	}
	return nil
}

// page runs historySQL or sinceSQL and returns the room's last seq and the
// messages in the order the query gives.
func (s *Store) page(ctx context.Context, op, sql, room string, seq uint64, limit int) (last uint64, msgs []store.Message, err error) {
	err = s.call(ctx, op, func(ctx context.Context) error {
		return s.roomRows(ctx, room, func(rows pgx.Rows) error {
			var (
				lastSeq  int64
				mseq     *int64
				id, from *string
				body     []byte
				ts       *time.Time
			)
			if err := rows.Scan(&lastSeq, &mseq, &id, &from, &body, &ts); err != nil {
				return err
			}
			last = uint64(lastSeq)
			if mseq != nil {
				msgs = append(msgs, store.Message{Room: room, Seq: uint64(*mseq), ID: *id, From: *from, Body: body, TS: ts.UTC()})
			}
			return nil
		}, sql, room, int64(seq), limit)
	})
	return last, msgs, err
}

// History pages backwards by seq, through the (room_pk, seq) primary key.
// See store.Messages.
func (s *Store) History(ctx context.Context, room string, before uint64, limit int) ([]store.Message, bool, error) {
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	limit = min(limit, maxPage)
	if before == 0 || before > math.MaxInt64 {
		before = math.MaxInt64
	}
	_, msgs, err := s.page(ctx, "history", historySQL, room, before, limit+1)
	if err != nil {
		return nil, false, err
	}
	more := len(msgs) > limit
	msgs = msgs[:min(len(msgs), limit)]
	slices.Reverse(msgs)
	return msgs, more, nil
}

// Since returns messages after a seq, or *store.TrimmedError when the first
// of them is no longer stored. See store.Messages.
func (s *Store) Since(ctx context.Context, room string, after uint64, limit int) ([]store.Message, bool, error) {
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	limit = min(limit, maxPage)
	if after >= math.MaxInt64 {
		// Above any seq the store can assign; still report an unknown room.
		_, err := s.LastSeq(ctx, room)
		return nil, false, err
	}
	last, msgs, err := s.page(ctx, "since", sinceSQL, room, after, limit+1)
	if err != nil {
		return nil, false, err
	}
	if after >= last {
		return nil, false, nil
	}
	// last and the page share a snapshot that holds every seq up to last
	// (doc.go: commit order is seq order), so a missing after+1 was
	// deleted, not merely uncommitted.
	switch {
	case len(msgs) == 0:
		return nil, false, &store.TrimmedError{Room: room, Oldest: last + 1}
	case msgs[0].Seq != after+1:
		return nil, false, &store.TrimmedError{Room: room, Oldest: msgs[0].Seq}
	}
	more := len(msgs) > limit
	return msgs[:min(len(msgs), limit)], more, nil
}

// LastSeq returns the room's highest assigned seq. See store.Messages.
func (s *Store) LastSeq(ctx context.Context, room string) (uint64, error) {
	var last int64
	err := s.call(ctx, "last seq", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, `SELECT q.last_seq FROM rooms r JOIN room_seqs q ON q.pk = r.pk WHERE r.id = $1`, room).Scan(&last)
		return rowsOrNotFound(err, "room", room)
	})
	return uint64(last), err
}
