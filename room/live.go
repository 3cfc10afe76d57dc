package room

import (
	"context"
	"hash/maphash"
	"sync"

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
// a leaf).
type registry struct {
	seed   maphash.Seed
	stats  *counters // the Service's, shared with every live room
	shards [registryShards]struct {
		mu    sync.Mutex
		rooms map[string]*liveRoom
	}
}

// liveRoom is one room's in-memory state: who is connected, and the order in
// which messages are handed to fan-out.
//
// Delivery order: the store assigns seq; publishes on different workers may
// finish out of order, so publish parks a message until every lower seq has
// been handed over, then hands over the run in seq order (next). Fan-out
// for a member runs on that member's own worker (engine.Submit), after
// whatever is already queued there, so each member sees messages in seq
// order, and a join (which runs on the joiner's worker) sees exactly the
// messages up to next-1 through the store and everything later live.
type liveRoom struct {
	id    string
	refs  int       // sessions joined; guarded by the registry shard's mu
	stats *counters // the Service's

	mu       sync.Mutex
	next     uint64                   // the seq to hand to fan-out next
	parked   map[uint64]*engine.Frame // finished publishes waiting for a lower seq
	byWorker [][]*session             // members by worker; copy-on-write
	users    map[string]int           // connected sessions per user (presence)
}

func (r *registry) shard(id string) *struct {
	mu    sync.Mutex
	rooms map[string]*liveRoom
} {
	return &r.shards[maphash.String(r.seed, id)%registryShards]
}

// acquire returns the live room for id, loading its last seq from the store
// when it is not live yet, and counts one more reference.
func (r *registry) acquire(ctx context.Context, st store.Store, id string, workers int) (*liveRoom, error) {
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if lr := sh.rooms[id]; lr != nil {
		lr.refs++
		return lr, nil
	}
	// Nobody on this instance can publish to id while it is not live, so
	// the store's last seq is the last one fan-out has to know about.
	last, err := st.LastSeq(ctx, id)
	if err != nil {
		return nil, err
	}
	lr := &liveRoom{id: id, refs: 1, stats: r.stats, next: last + 1, parked: map[uint64]*engine.Frame{},
		byWorker: make([][]*session, workers), users: map[string]int{}}
	if sh.rooms == nil {
		sh.rooms = map[string]*liveRoom{}
	}
	sh.rooms[id] = lr
	return lr, nil
}

// release drops a reference; the last one removes the room from memory.
func (r *registry) release(lr *liveRoom) {
	sh := r.shard(lr.id)
	sh.mu.Lock()
	lr.refs--
	if lr.refs == 0 {
		delete(sh.rooms, lr.id)
	}
	sh.mu.Unlock()
}

// get returns the live room or nil.
func (r *registry) get(id string) *liveRoom {
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.rooms[id]
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
// over the caller's reference to f.
func (lr *liveRoom) publish(e *engine.Engine, seq uint64, f *engine.Frame) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if seq < lr.next {
		f.Release() // already delivered (cannot happen for a fresh seq)
		return
	}
	lr.parked[seq] = f
	for {
		next, ok := lr.parked[lr.next]
		if !ok {
			return
		}
		delete(lr.parked, lr.next)
		lr.next++
		lr.deliverLocked(e, next, "")
		next.Release()
	}
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
