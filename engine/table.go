package engine

import "sync"

// tableShards spreads the connection table's lock: upgrades and closes on
// different loops rarely meet on one shard.
const tableShards = 64

// connTable is every upgraded connection by id, for shutdown and stats.
//
// Lock order: a shard's mu is a leaf; each holds no other lock, and each
// calls its callback with the shard unlocked.
type connTable struct {
	shards [tableShards]struct {
		mu    sync.Mutex
		conns map[uint64]*Conn
	}
}

func (t *connTable) add(c *Conn) {
	s := &t.shards[c.id%tableShards]
	s.mu.Lock()
	if s.conns == nil {
		s.conns = make(map[uint64]*Conn)
	}
	s.conns[c.id] = c
	s.mu.Unlock()
}

func (t *connTable) remove(c *Conn) {
	s := &t.shards[c.id%tableShards]
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
}

func (t *connTable) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.conns)
		s.mu.Unlock()
	}
	return n
}

// each calls f for every connection, one shard snapshot at a time.
func (t *connTable) each(f func(*Conn)) {
	var batch []*Conn
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		batch = batch[:0]
		for _, c := range s.conns {
			batch = append(batch, c)
		}
		s.mu.Unlock()
		for _, c := range batch {
			f(c)
		}
	}
}
