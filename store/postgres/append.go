package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
	}
	m.Body = slices.Clone(m.Body)
	return appendItem{msg: m}
}

const (
	// lockRoomsSQL locks the batch's rooms in id order, so two batches
	// sharing rooms queue behind each other instead of deadlocking. NO KEY
	// UPDATE is the lock the later UPDATE takes anyway; it does not block
	// foreign-key checks (memberships, cursors) on the room.
	lockRoomsSQL = `SELECT id, pk, last_seq, last_ts FROM rooms WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`
	// storedSQL finds the batch's messages already stored. It runs after
	// lockRoomsSQL in the same transaction and, at READ COMMITTED, on a
	// snapshot taken after the locks were granted: it sees every append
	// that held those rooms before.
	storedSQL = `
		SELECT k.room, m.sender, m.client_id, m.seq, m.body, m.ts
		FROM unnest($1::text[], $2::text[], $3::text[]) AS k(room, sender, client_id)
		JOIN rooms r ON r.id = k.room
		JOIN messages m ON m.room_pk = r.pk AND m.sender = k.sender AND m.client_id = k.client_id`
	insertSQL = `
		INSERT INTO messages (room_pk, seq, client_id, sender, body, ts)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bytea[], $6::timestamptz[])`
	advanceRoomsSQL = `
		UPDATE rooms SET last_seq = u.last_seq, last_ts = u.last_ts
		FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS u(pk, last_seq, last_ts)
		WHERE rooms.pk = u.pk`
)

// lockedRoom is a room row held locked by an append transaction.
type lockedRoom struct {
	pk   int64
	last uint64
	// ts is the TS this transaction gives the room's messages: now, or the
	// room's last TS if the clock (or another instance's) is behind it.
	ts time.Time
	// changed: this transaction gives the room new messages.
	changed bool
}

type messageKey struct{ room, from, id string }

// appendTx appends the items not marked skip in one transaction, in two
// round trips: (BEGIN, lock the rooms, find stored duplicates), then
// (insert, advance the rooms, COMMIT). Seqs are assigned under the room
// locks, after duplicates are known, so a retry never takes a seq. On
// error nothing is known to be stored and the items' results are
// meaningless.
func (s *Store) appendTx(ctx context.Context, items []*appendItem) error {
	n := 0
	keyRooms := make([]string, 0, len(items))
	keyFroms := make([]string, 0, len(items))
	keyIDs := make([]string, 0, len(items))
	for _, it := range items {
		if it.skip {
			continue
		}
		n++
		keyRooms = append(keyRooms, it.msg.Room)
		keyFroms = append(keyFroms, it.msg.From)
		keyIDs = append(keyIDs, it.msg.ID)
	}
	if n == 0 {
		return nil
	}
	roomIDs := slices.Compact(slices.Sorted(slices.Values(keyRooms)))

	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	committed := false
	defer func() {
		if !committed {
			rollback(conn)
		}
	}()

	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(lockRoomsSQL, roomIDs)
	b.Queue(storedSQL, keyRooms, keyFroms, keyIDs)
	br := conn.SendBatch(ctx, b)
	rooms, stored, err := readLocked(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	t := now()
	for _, r := range rooms {
		if t.After(r.ts) { // else the clock is behind the room's last TS
			r.ts = t
		}
	}
	var (
		insPK, insSeq       = make([]int64, 0, n), make([]int64, 0, n)
		insIDs, insFroms    = make([]string, 0, n), make([]string, 0, n)
		insBodies, insTimes = make([][]byte, 0, n), make([]time.Time, 0, n)
		fresh               = make(map[messageKey]*appendItem, n)
	)
	for _, it := range items {
		if it.skip {
			continue
		}
		m := &it.msg
		r := rooms[m.Room]
		if r == nil {
			it.res = store.AppendResult{Err: notFound("room", m.Room)}
			continue
		}
		key := messageKey{m.Room, m.From, m.ID}
		if prev, ok := stored[key]; ok {
			it.res = store.AppendResult{Message: prev, Duplicate: true}
			continue
		}
		if first, ok := fresh[key]; ok {
			it.res = store.AppendResult{Message: first.res.Message, Duplicate: true}
			continue
		}
		r.last++
		r.changed = true
		m.Seq, m.TS = r.last, r.ts
		it.res = store.AppendResult{Message: *m}
		fresh[key] = it
		insPK, insSeq = append(insPK, r.pk), append(insSeq, int64(m.Seq))
		insIDs, insFroms = append(insIDs, m.ID), append(insFroms, m.From)
		insBodies, insTimes = append(insBodies, m.Body), append(insTimes, m.TS)
	}

	b = &pgx.Batch{}
	if len(insPK) > 0 {
		b.Queue(insertSQL, insPK, insSeq, insIDs, insFroms, insBodies, insTimes)
		var pks, lasts []int64
		var times []time.Time
		for _, r := range rooms {
			if !r.changed {
				continue
			}
			pks, lasts, times = append(pks, r.pk), append(lasts, int64(r.last)), append(times, r.ts)
		}
		b.Queue(advanceRoomsSQL, pks, lasts, times)
	}
	b.Queue("COMMIT")
	br = conn.SendBatch(ctx, b)
	for range b.Len() - 1 {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if err == nil {
		var tag []byte
		tag, err = commitTag(br)
		if err == nil && string(tag) != "COMMIT" {
			err = fmt.Errorf("commit answered %q", tag)
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	committed = true
	return nil
}

// commitTag reads the COMMIT's command tag.
func commitTag(br pgx.BatchResults) ([]byte, error) {
	tag, err := br.Exec()
	return []byte(tag.String()), err
}

// readLocked reads the results of BEGIN, lockRoomsSQL and storedSQL: the
// rooms found (locked) by id, and the stored messages by key.
func readLocked(br pgx.BatchResults) (map[string]*lockedRoom, map[messageKey]store.Message, error) {
	if _, err := br.Exec(); err != nil {
		return nil, nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, nil, err
	}
	rooms := make(map[string]*lockedRoom)
	stored := make(map[messageKey]store.Message)
	for rows.Next() {
		var (
			id     string
			r      lockedRoom
			last   int64
			lastTS time.Time
		)
		if err := rows.Scan(&id, &r.pk, &last, &lastTS); err != nil {
			rows.Close()
			return nil, nil, err
		}
		r.last, r.ts = uint64(last), lastTS.UTC()
		rooms[id] = &r
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows, err = br.Query()
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var (
			m   store.Message
			seq int64
		)
		if err := rows.Scan(&m.Room, &m.From, &m.ID, &seq, &m.Body, &m.TS); err != nil {
			rows.Close()
			return nil, nil, err
		}
		m.Seq, m.TS = uint64(seq), m.TS.UTC()
		stored[messageKey{m.Room, m.From, m.ID}] = m
	}
	return rooms, stored, rows.Err()
}

// rollback ends a transaction left open by a failed append, so the
// connection can go back to the pool; if even that fails, the pool drops
// the connection on release (it is not idle).
func rollback(conn *pgxpool.Conn) {
	pc := conn.Conn().PgConn()
	if pc.IsClosed() || pc.TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Exec(ctx, "ROLLBACK")
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
