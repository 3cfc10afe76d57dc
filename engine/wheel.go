package engine

import "sync"

// wheelSlots is the number of slots in one timing wheel. With the default
// 100 ms tick one turn is 102.4 s; a deadline further away simply stays in
// its slot for more turns.
const wheelSlots = 1024

// timingWheel holds, per slot, the connections due for a check at that tick.
// It replaces a timer per connection: scheduling is an append, and a tick
// looks only at the connections due then, never at all of them.
//
// Entries are lazy: a connection records the one tick it wants (c.checkAt);
// an entry whose tick no longer matches is stale and dropped when its slot
// fires. So moving a deadline is one append, with no search or unlink.
//
// Lock order: wheel.mu may be taken while holding nothing else; check
// callbacks run with it released.
type timingWheel struct {
	mu    sync.Mutex
	slots [wheelSlots][]*Conn
	tick  int64 // the tick being processed or last processed
	check func(c *Conn, tick int64)
}

func newTimingWheel(start int64, check func(*Conn, int64)) *timingWheel {
	return &timingWheel{tick: start, check: check}
}

// schedule asks for c to be checked at tick at (or the next tick if at is
// not in the future).
func (w *timingWheel) schedule(c *Conn, at int64) {
	w.mu.Lock()
	if at <= w.tick {
		at = w.tick + 1
	}
	c.checkAt.Store(at)
	s := &w.slots[at%wheelSlots]
	*s = append(*s, c)
	w.mu.Unlock()
}

// advance processes every tick up to now.
func (w *timingWheel) advance(now int64) {
	for {
		w.mu.Lock()
		if w.tick >= now {
			w.mu.Unlock()
			return
		}
		w.tick++
		tick := w.tick
		s := &w.slots[tick%wheelSlots]
		due := *s
		*s = nil
		var later []*Conn
		var fire []*Conn
		for _, c := range due {
			switch at := c.checkAt.Load(); {
			case at == tick:
				fire = append(fire, c)
			case at > tick && at%wheelSlots == tick%wheelSlots:
				later = append(later, c) // a later turn of the wheel
			}
		}
		if len(later) > 0 {
			*s = append(*s, later...)
		}
		w.mu.Unlock()
		for _, c := range fire {
			if c.checkAt.CompareAndSwap(tick, 0) {
				w.check(c, tick)
			}
		}
	}
}
