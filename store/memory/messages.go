package memory

import (
	"context"
	"slices"
	"time"

	"github.com/switchboard-chat/switchboard/store"
)

// messageLog is one room's newest messages in a ring, and the idempotency
// index for exactly those messages. Guarded by its room's mu.
type messageLog struct {
	max    int
	ring   []store.Message // grows to max, then wraps
	head   int             // ring index of the oldest kept message
	n      int             // messages kept
	last   uint64          // highest assigned seq; the oldest kept is last-n+1
	lastTS time.Time
	ids    map[messageKey]uint64 // (from, id) -> seq, kept messages only
}

type messageKey struct{ from, id string }

func newMessageLog(keep int) messageLog {
	return messageLog{max: keep, ids: make(map[messageKey]uint64)}
}

// oldest is the seq of the oldest kept message, last+1 when none is kept.
func (l *messageLog) oldest() uint64 { return l.last - uint64(l.n) + 1 }

// at returns the kept message with seq, oldest() <= seq <= last.
func (l *messageLog) at(seq uint64) *store.Message {
	return &l.ring[(l.head+int(seq-l.oldest()))%len(l.ring)]
}

// append stores m (validated, Body already the store's own copy) with the
// next seq, or returns the kept message with the same (From, ID).
func (l *messageLog) append(roomID string, m store.Message) (store.Message, bool) {
	key := messageKey{m.From, m.ID}
	if seq, ok := l.ids[key]; ok {
		return *l.at(seq), true
	}
	ts := now()
	if ts.Before(l.lastTS) {
		ts = l.lastTS // the wall clock stepped back: keep TS in seq order
	}
	stored := store.Message{Room: roomID, Seq: l.last + 1, ID: m.ID, From: m.From, Body: m.Body, TS: ts}

	switch {
	case l.n < len(l.ring):
	case len(l.ring) < l.max:
		l.grow()
	default: // full: trim the oldest
		old := &l.ring[l.head]
		delete(l.ids, messageKey{old.From, old.ID})
		*old = store.Message{}
		l.head = (l.head + 1) % len(l.ring)
		l.n--
	}
	l.ring[(l.head+l.n)%len(l.ring)] = stored
	l.n++
	l.last = stored.Seq
	l.lastTS = ts
	l.ids[key] = stored.Seq
	return stored, false
}

// grow doubles the ring up to max, so quiet rooms stay small.
func (l *messageLog) grow() {
	ring := make([]store.Message, min(l.max, max(8, 2*len(l.ring))))
	for i := range l.n {
		ring[i] = l.ring[(l.head+i)%len(l.ring)]
	}
	l.ring, l.head = ring, 0
}

// slice copies the kept messages lo..hi (inclusive) out, in at most two
// runs of the ring.
func (l *messageLog) slice(lo, hi uint64) []store.Message {
	out := make([]store.Message, hi-lo+1)
	start := (l.head + int(lo-l.oldest())) % len(l.ring)
	n := copy(out, l.ring[start:])
	copy(out[n:], l.ring)
	return out
}

func validMessage(m *store.Message) error {
	switch {
	case m.ID == "":
		return invalid("room %q: empty message ID", m.Room)
	case m.From == "":
		return invalid("room %q: empty From", m.Room)
	case len(m.Body) == 0:
		return invalid("room %q: empty Body", m.Room)
	}
	return nil
}

// Append stores one message with the room's next seq. See store.Messages.
func (s *Store) Append(ctx context.Context, m store.Message) (store.Message, bool, error) {
	if err := s.begin(ctx); err != nil {
		return store.Message{}, false, err
	}
	if err := validMessage(&m); err != nil {
		return store.Message{}, false, err
	}
	r, err := s.lookup(m.Room)
	if err != nil {
		return store.Message{}, false, err
	}
	m.Body = slices.Clone(m.Body) // outside the lock; wasted only on a duplicate
	r.mu.Lock()
	stored, dup := r.log.append(r.info.ID, m)
	r.mu.Unlock()
	return stored, dup, nil
}

// AppendBatch appends messages in order. The memory store takes each room's
// lock once per run of consecutive messages to that room. See
// store.Messages.
func (s *Store) AppendBatch(ctx context.Context, ms []store.Message) ([]store.AppendResult, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	results := make([]store.AppendResult, len(ms))
	var locked *room
	defer func() {
		if locked != nil {
			locked.mu.Unlock()
		}
	}()
	for i := range ms {
		m := ms[i]
		if err := validMessage(&m); err != nil {
			results[i].Err = err
			continue
		}
		if locked == nil || locked.info.ID != m.Room {
			r, err := s.lookup(m.Room)
			if err != nil {
				results[i].Err = err
				continue
			}
			if locked != nil {
				locked.mu.Unlock()
			}
			locked = r
			locked.mu.Lock()
		}
		m.Body = slices.Clone(m.Body)
		results[i].Message, results[i].Duplicate = locked.log.append(locked.info.ID, m)
	}
	return results, nil
}

// History pages backwards through kept messages. See store.Messages.
func (s *Store) History(ctx context.Context, roomID string, before uint64, limit int) ([]store.Message, bool, error) {
	if err := s.begin(ctx); err != nil {
		return nil, false, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	r, err := s.lookup(roomID)
	if err != nil {
		return nil, false, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	l := &r.log
	if before == 0 || before > l.last {
		before = l.last + 1
	}
	first := l.oldest()
	if l.n == 0 || before <= first {
		return nil, false, nil
	}
	hi := before - 1
	lo := first
	if hi-first >= uint64(limit) {
		lo = hi - uint64(limit) + 1
	}
	return l.slice(lo, hi), lo > first, nil
}

// Since returns kept messages after a seq, or *store.TrimmedError. See
// store.Messages.
func (s *Store) Since(ctx context.Context, roomID string, after uint64, limit int) ([]store.Message, bool, error) {
	if err := s.begin(ctx); err != nil {
		return nil, false, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	r, err := s.lookup(roomID)
	if err != nil {
		return nil, false, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	l := &r.log
	if after >= l.last {
		return nil, false, nil
	}
	if first := l.oldest(); after+1 < first {
		return nil, false, &store.TrimmedError{Room: roomID, Oldest: first}
	}
	hi := l.last
	if hi-after > uint64(limit) {
		hi = after + uint64(limit)
	}
	return l.slice(after+1, hi), hi < l.last, nil
}

// LastSeq returns the room's highest assigned seq. See store.Messages.
func (s *Store) LastSeq(ctx context.Context, roomID string) (uint64, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	r, err := s.lookup(roomID)
	if err != nil {
		return 0, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.log.last, nil
}

// AppendAsync is Append with the result handed to done before it returns:
// the memory store never waits, so there is nothing to overlap. See
// store.AsyncAppender.
func (s *Store) AppendAsync(ctx context.Context, m store.Message, done func(store.AppendResult)) {
	stored, dup, err := s.Append(ctx, m)
	done(store.AppendResult{Message: stored, Duplicate: dup, Err: err})
}

var _ store.AsyncAppender = (*Store)(nil)
