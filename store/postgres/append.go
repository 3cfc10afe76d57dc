package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/switchboard-chat/switchboard/store"
)

// appendItem is one message on its way through an append transaction.
type appendItem struct {
	// msg is validated, its Body the store's own copy.
	msg store.Message
	// res is the outcome, final once the transaction committed. skip means
	// res was decided before the transaction (invalid message, unknown
	// room, caller gone) and the transaction leaves the item alone.
	res  store.AppendResult
	skip bool
}

// prepareItem validates m for an append and copies its body; a message
// that cannot be stored comes back already decided (skip).
func prepareItem(m store.Message) appendItem {
	m.Seq, m.TS = 0, time.Time{}
	switch {
	case m.ID == "":
		return appendItem{skip: true, res: store.AppendResult{Err: invalid("room %q: empty message ID", m.Room)}}
	case m.From == "":
		return appendItem{skip: true, res: store.AppendResult{Err: invalid("room %q: empty From", m.Room)}}
	case len(m.Body) == 0:
		return appendItem{skip: true, res: store.AppendResult{Err: invalid("room %q: empty Body", m.Room)}}
	case !store.ValidRoomID(m.Room):
		return appendItem{skip: true, res: store.AppendResult{Err: notFound("room", m.Room)}}
	case !storableText(m.ID) || !storableText(m.From):
		// PostgreSQL text holds neither: caught here, it fails this message
		// only, not the group commit it would have joined.
		return appendItem{skip: true, res: store.AppendResult{Err: invalid("room %q: message ID or From is not UTF-8 without NUL", m.Room)}}
	}
	m.Body = slices.Clone(m.Body)
	return appendItem{msg: m}
}

// storableText reports whether PostgreSQL text can hold s: valid UTF-8
// without NUL bytes.
func storableText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// appendGroupedSQL stores a batch of new messages through
// switchboard_append_grouped (migration 0003): the batch grouped by room
// here, one statement, one row back per room. It fails with unique_violation,
// having stored nothing, when a message is stored already.
const appendGroupedSQL = `SELECT o_room, o_base, o_ts FROM switchboard_append_grouped($1, $2, $3, $4, $5, $6, $7)`

// appendSQL stores a batch through switchboard_append (migrations), which
// looks every message up first and answers every row: the path for a batch
// holding a retry of a stored message. Both are one statement, one round
// trip, committed before the result's last byte is read (pgx reads on to
// ReadyForQuery, so a failed commit is an error).
const appendSQL = `SELECT o_ord, o_seq, o_ts, o_duplicate, o_body FROM switchboard_append($1, $2, $3, $4)`

type messageKey struct{ room, from, id string }

// appendTx appends the items not marked skip in one transaction (see
// switchboard_append_grouped and switchboard_append for how seqs and
// duplicates are decided). On error nothing is known to be stored and the
// items' results are meaningless.
func (s *Store) appendTx(ctx context.Context, items []*appendItem) error {
	// Each (room, from, id) goes to the database once; a later copy in the
	// same batch (a retry that overtook its original) takes its result.
	live := make([]*appendItem, 0, len(items))
	var copies map[*appendItem]*appendItem
	firsts := make(map[messageKey]*appendItem, len(items))
	for _, it := range items {
		if it.skip {
			continue
		}
		key := messageKey{it.msg.Room, it.msg.From, it.msg.ID}
		if first, ok := firsts[key]; ok {
			if copies == nil {
				copies = make(map[*appendItem]*appendItem)
			}
			copies[it] = first
			continue
		}
		firsts[key] = it
		live = append(live, it)
	}
	if len(live) == 0 {
		return nil
	}
	stored, err := s.appendNew(ctx, live)
	if isUniqueViolation(err) {
		s.dedupRetries.Add(1)
		stored, err = s.appendChecked(ctx, live)
	}
	if err != nil {
		return err
	}
	for it, first := range copies {
		it.res = first.res
		if it.res.Err == nil {
			it.res.Duplicate = true
		}
	}
	s.commitCount.Add(1)
	s.committedCount.Add(uint64(stored))
	return nil
}

// appendNew stores live, every message taken to be new, through
// switchboard_append_grouped and sets each item's result; it returns how
// many were stored. A unique violation means one was stored already:
// nothing was written and no result is set.
func (s *Store) appendNew(ctx context.Context, live []*appendItem) (int, error) {
	var (
		rooms   []string
		index   = make(map[string]int32, 8)
		counts  []int32
		roomOf  = make([]int32, len(live))
		offsets = make([]int32, len(live))
		froms   = make([]string, len(live))
		ids     = make([]string, len(live))
		bodies  = make([][]byte, len(live))
	)
	for i, it := range live {
		r, ok := index[it.msg.Room]
		if !ok {
			rooms = append(rooms, it.msg.Room)
			counts = append(counts, 0)
			r = int32(len(rooms))
			index[it.msg.Room] = r
		}
		counts[r-1]++
		roomOf[i], offsets[i] = r, counts[r-1]
		froms[i], ids[i], bodies[i] = it.msg.From, it.msg.ID, it.msg.Body
	}
	rows, err := s.pool.Query(ctx, appendGroupedSQL, rooms, counts, roomOf, offsets, froms, ids, bodies)
	if err != nil {
		return 0, err
	}
	bases := make([]int64, len(rooms))
	stamps := make([]time.Time, len(rooms))
	known := make([]bool, len(rooms))
	var (
		room int32
		base int64
		ts   time.Time
	)
	for rows.Next() {
		if err := rows.Scan(&room, &base, &ts); err != nil {
			rows.Close()
			return 0, err
		}
		if room < 1 || int(room) > len(rooms) || known[room-1] {
			rows.Close()
			return 0, fmt.Errorf("switchboard_append_grouped answered room %d twice or out of range", room)
		}
		known[room-1], bases[room-1], stamps[room-1] = true, base, ts.UTC()
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	stored := 0
	for i, it := range live {
		r := roomOf[i] - 1
		if !known[r] {
			it.res = store.AppendResult{Err: notFound("room", it.msg.Room)}
			continue
		}
		m := it.msg
		m.Seq, m.TS = uint64(bases[r])+uint64(offsets[i]), stamps[r]
		it.res = store.AppendResult{Message: m}
		stored++
	}
	return stored, nil
}

// appendChecked stores live through switchboard_append, which finds the
// messages stored already, and sets each item's result; it returns how
// many were stored now.
func (s *Store) appendChecked(ctx context.Context, live []*appendItem) (int, error) {
	rooms, froms := make([]string, len(live)), make([]string, len(live))
	ids, bodies := make([]string, len(live)), make([][]byte, len(live))
	for i, it := range live {
		rooms[i], froms[i], ids[i], bodies[i] = it.msg.Room, it.msg.From, it.msg.ID, it.msg.Body
	}
	rows, err := s.pool.Query(ctx, appendSQL, rooms, froms, ids, bodies)
	if err != nil {
		return 0, err
	}
	answered := make([]bool, len(live))
	var (
		ord    int32
		seq    int64
		ts     time.Time
		dup    bool
		body   []byte
		stored int
	)
	for rows.Next() {
		if err := rows.Scan(&ord, &seq, &ts, &dup, &body); err != nil {
			rows.Close()
			return 0, err
		}
		if ord < 1 || int(ord) > len(live) || answered[ord-1] {
			rows.Close()
			return 0, fmt.Errorf("switchboard_append answered row %d twice or out of range", ord)
		}
		answered[ord-1] = true
		it := live[ord-1]
		m := it.msg
		m.Seq, m.TS = uint64(seq), ts.UTC()
		if dup {
			m.Body = body
		} else {
			stored++
		}
		it.res = store.AppendResult{Message: m, Duplicate: dup}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for i, it := range live {
		if !answered[i] {
			it.res = store.AppendResult{Err: notFound("room", it.msg.Room)}
		}
	}
	return stored, nil
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// Append stores one message through the group committer: it waits for the
// commit that holds it. See store.Messages.
func (s *Store) Append(ctx context.Context, m store.Message) (store.Message, bool, error) {
	if err := s.begin(ctx); err != nil {
		return store.Message{}, false, err
	}
	req := &appendReq{ctx: ctx, item: prepareItem(m), done: make(chan struct{})}
	if req.item.skip {
		return store.Message{}, false, req.item.res.Err
	}
	res := s.commits.submit(ctx, req)
	return res.Message, res.Duplicate, res.Err
}

// AppendAsync hands one message to the group committer and returns; done
// gets the result once the commit that holds it has finished (on the
// committer's goroutine), or at once for a message refused before it
// (invalid, store closed or down). See store.AsyncAppender.
func (s *Store) AppendAsync(ctx context.Context, m store.Message, done func(store.AppendResult)) {
	if err := s.begin(ctx); err != nil {
		done(store.AppendResult{Err: err})
		return
	}
	req := &appendReq{ctx: ctx, item: prepareItem(m), cb: done}
	if req.item.skip {
		done(req.item.res)
		return
	}
	if err := s.commits.enqueue(ctx, req); err != nil {
		done(store.AppendResult{Err: err})
	}
}

var _ store.AsyncAppender = (*Store)(nil)

// CommitStats returns how many append transactions have committed and how
// many new messages they stored, since Open: messages/commits is the mean
// group-commit batch (tests and benchmarks read it).
func (s *Store) CommitStats() (commits, messages uint64) {
	return s.commitCount.Load(), s.committedCount.Load()
}

// AppendBatch appends ms in one transaction on the caller's goroutine,
// bypassing the group committer: the batch is already grouped. See
// store.Messages.
func (s *Store) AppendBatch(ctx context.Context, ms []store.Message) ([]store.AppendResult, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	items := make([]appendItem, len(ms))
	ptrs := make([]*appendItem, len(ms))
	for i, m := range ms {
		items[i] = prepareItem(m)
		ptrs[i] = &items[i]
	}
	if err := s.call(ctx, "append batch", func(ctx context.Context) error { return s.appendTx(ctx, ptrs) }); err != nil {
		return nil, err
	}
	results := make([]store.AppendResult, len(ms))
	for i := range items {
		results[i] = items[i].res
	}
	return results, nil
}
