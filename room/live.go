package room

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/store"
)

// registryShards spreads the live-room map's lock.
const registryShards = 64

// registry holds the rooms that have members connected to this instance.
//
// Lock order: a registry shard's mu, then a liveRoom's mu; never the
// reverse. engine.Submit may be called under liveRoom.mu (its queue lock is
// a leaf). No lock is held across a store or bus call.
type registry struct {
	seed   maphash.Seed
	st     store.Store
	bus    store.Bus // nil: one instance
	stats  *counters // the Service's, shared with every live room
	shards [registryShards]struct {
		mu    sync.Mutex
		rooms map[string]*liveRoom
	}
}

// liveRoom is one room's in-memory state: who is connected, and the order in
// which messages are handed to fan-out.
//
// Delivery order: the store assigns seq; publishes on different workers (or
// instances) may finish out of order, so publish parks a message until
// every lower seq has been handed over, then hands over the run in seq
// order (next). Fan-out for a member runs on that member's own worker
// (engine.Submit), after whatever is already queued there, so each member
// sees messages in seq order, and a join (which runs on the joiner's
// worker) sees exactly the messages up to next-1 through the store and
// everything later live.
type liveRoom struct {
	id    string
	refs  int           // sessions joined or joining; guarded by the registry shard's mu
	ready chan struct{} // closed once next is known (or err is set)
	err   error         // why loading failed; read after ready
	stats *counters     // the Service's

	mu       sync.Mutex
	next     uint64                   // the seq to hand to fan-out next; 0 while loading
	parked   map[uint64]*engine.Frame // finished publishes waiting for a lower seq
	gapSince time.Time                // when parked last became non-empty with next missing
	byWorker [][]*session             // members by worker; copy-on-write
	users    map[string]int           // connected sessions per user (presence)
}

func (r *registry) shard(id string) *struct {
	mu    sync.Mutex
	rooms map[string]*liveRoom
} {
	return &r.shards[maphash.String(r.seed, id)%registryShards]
}

// acquire returns the live room for id and counts one more reference; the
// first reference loads it. Loading subscribes to the room's bus channel
// before reading its last seq from the store: whatever another instance
// stores after that read is published after the subscription, so it
// arrives; whatever it stored before is below next.
func (r *registry) acquire(ctx context.Context, e *engine.Engine, id string) (*liveRoom, error) {
	sh := r.shard(id)
	sh.mu.Lock()
	lr := sh.rooms[id]
	if lr != nil {
		lr.refs++
		sh.mu.Unlock()
		select {
		case <-lr.ready:
		case <-ctx.Done():
			r.release(lr)
			return nil, ctx.Err()
		}
		if lr.err != nil {
			r.release(lr)
			return nil, lr.err
		}
		return lr, nil
	}
	lr = &liveRoom{id: id, refs: 1, stats: r.stats, ready: make(chan struct{}), parked: map[uint64]*engine.Frame{},
		byWorker: make([][]*session, e.Workers()), users: map[string]int{}}
	if sh.rooms == nil {
		sh.rooms = map[string]*liveRoom{}
	}
	sh.rooms[id] = lr
	sh.mu.Unlock()

	err := r.load(ctx, e, lr)
	close(lr.ready)
	if err != nil {
		r.release(lr)
		return nil, err
	}
	return lr, nil
}

// load subscribes (with a bus) and reads the last seq. A bus that is down
// does not stop the join: the room stays wanted, and the bus resyncs every
// room once it is back.
func (r *registry) load(ctx context.Context, e *engine.Engine, lr *liveRoom) error {
	if r.bus != nil {
		if err := r.bus.Subscribe(ctx, lr.id); err != nil && !errors.Is(err, store.ErrUnavailable) {
			lr.err = err
			return err
		}
	}
	last, err := r.st.LastSeq(ctx, lr.id)
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if err != nil {
		lr.err = err
		for seq, f := range lr.parked {
			f.Release()
			delete(lr.parked, seq)
		}
		return err
	}
	lr.next = last + 1
	for seq, f := range lr.parked {
		if seq < lr.next {
			f.Release()
			delete(lr.parked, seq)
		}
	}
	lr.flushLocked(e)
	return nil
}

// release drops a reference; the last one removes the room from memory.
func (r *registry) release(lr *liveRoom) {
	sh := r.shard(lr.id)
	sh.mu.Lock()
	lr.refs--
	gone := lr.refs == 0
	if gone {
		delete(sh.rooms, lr.id)
	}
	sh.mu.Unlock()
	if gone && r.bus != nil {
		r.bus.Unsubscribe(lr.id)
	}
}

// get returns the live room or nil.
func (r *registry) get(id string) *liveRoom {
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.rooms[id]
}

// each calls f for every live room.
func (r *registry) each(f func(*liveRoom)) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		rooms := make([]*liveRoom, 0, len(sh.rooms))
		for _, lr := range sh.rooms {
			rooms = append(rooms, lr)
		}
		sh.mu.Unlock()
		for _, lr := range rooms {
			f(lr)
		}
	}
}

// addLocked adds s and reports whether it is its user's first session here.
func (lr *liveRoom) addLocked(s *session) (firstOfUser bool) {
	w := s.c.Worker()
	list := make([]*session, len(lr.byWorker[w]), len(lr.byWorker[w])+1)
	copy(list, lr.byWorker[w])
	lr.byWorker[w] = append(list, s)
	lr.users[s.user]++
	return lr.users[s.user] == 1
}

// removeLocked removes s and reports whether it was its user's last session.
func (lr *liveRoom) removeLocked(s *session) (lastOfUser bool) {
	w := s.c.Worker()
	old := lr.byWorker[w]
	list := make([]*session, 0, len(old))
	found := false
	for _, m := range old {
		if m == s {
			found = true
			continue
		}
		list = append(list, m)
	}
	if !found {
		return false
	}
	lr.byWorker[w] = list
	lr.users[s.user]--
	if lr.users[s.user] == 0 {
		delete(lr.users, s.user)
		return true
	}
	return false
}

// sessionsOfLocked returns the connected sessions of user.
func (lr *liveRoom) sessionsOfLocked(user string) []*session {
	var out []*session
	for _, list := range lr.byWorker {
		for _, s := range list {
			if s.user == user {
				out = append(out, s)
			}
		}
	}
	return out
}

// publish hands a stored message's frame to fan-out in seq order. It takes
// over the caller's reference to f. A seq already handed over (a retry, a
// refill racing a relay, this instance's own relay) is dropped: taken is
// false. It reports whether a gap has just opened: a later seq is parked
// and next is missing.
func (lr *liveRoom) publish(e *engine.Engine, seq uint64, f *engine.Frame) (taken, gapOpened bool) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if seq < lr.next || lr.parked[seq] != nil {
		f.Release()
		return false, false
	}
	lr.parked[seq] = f
	if lr.next == 0 {
		return true, false // loading: flushed once next is known
	}
	return true, lr.flushLocked(e)
}

// flushLocked hands over the parked run that starts at next.
func (lr *liveRoom) flushLocked(e *engine.Engine) (gapOpened bool) {
	for {
		f, ok := lr.parked[lr.next]
		if !ok {
			break
		}
		delete(lr.parked, lr.next)
		lr.next++
		lr.deliverLocked(e, f, "")
		f.Release()
	}
	if len(lr.parked) == 0 {
		lr.gapSince = time.Time{}
		return false
	}
	if lr.gapSince.IsZero() {
		lr.gapSince = time.Now()
		return true
	}
	return false
}

// skipTo moves next up to seq, dropping what is parked below it, when the
// messages before seq can no longer be had.
func (lr *liveRoom) skipTo(e *engine.Engine, seq uint64) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.next == 0 || seq <= lr.next {
		return
	}
	lr.next = seq
	for s, f := range lr.parked {
		if s < seq {
			f.Release()
			delete(lr.parked, s)
		}
	}
	lr.flushLocked(e)
}

// resume returns the seq after which the room is missing messages (0
// while loading).
func (lr *liveRoom) resume() uint64 {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.next == 0 {
		return 0
	}
	return lr.next - 1
}

// broadcast sends an unsequenced frame (presence, typing, read) to every
// member except the sessions of skipUser ("" skips no one), in order with
// the sequenced messages around it.
func (lr *liveRoom) broadcast(e *engine.Engine, payload []byte, skipUser string) {
	f := engine.NewFrame(ws.OpText, payload)
	lr.mu.Lock()
	lr.deliverLocked(e, f, skipUser)
	lr.mu.Unlock()
	f.Release()
}

// deliverLocked submits f to every member's worker: one task per worker
// that has members, never a goroutine per recipient. The member lists are
// immutable snapshots, so the tasks need no lock.
func (lr *liveRoom) deliverLocked(e *engine.Engine, f *engine.Frame, skipUser string) {
	for w, members := range lr.byWorker {
		if len(members) == 0 {
			continue
		}
		f.Retain()
		e.Submit(w, func() {
			var sent, dropped uint64
			for _, s := range members {
				if s.user == skipUser {
					continue
				}
				// A slow member is closed by the engine; the room moves on.
				if s.c.WriteFrame(f) == nil {
					sent++
				} else {
					dropped++
				}
			}
			f.Release()
			lr.stats.deliveries.Add(sent)
			if dropped > 0 {
				lr.stats.drops.Add(dropped)
			}
		})
	}
}
