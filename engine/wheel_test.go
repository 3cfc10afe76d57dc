package engine

import (
	"testing"
)

func TestTimingWheelFiresOnceAtTheRightTick(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   []int64 // successive schedule calls for one conn; the last wins
		want int64
	}{
		{"soon", []int64{3}, 3},
		{"past is next tick", []int64{-5}, 1},
		{"moved earlier", []int64{50, 7}, 7},
		{"moved later", []int64{7, 50}, 50},
		{"beyond one turn", []int64{wheelSlots + 10}, wheelSlots + 10},
		{"same slot next turn", []int64{5 + wheelSlots}, 5 + wheelSlots},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fired []int64
			w := newTimingWheel(0, func(c *Conn, tick int64) { fired = append(fired, tick) })
			c := &Conn{}
			for _, at := range tc.at {
				w.schedule(c, at)
			}
			w.advance(3 * wheelSlots)
			if len(fired) != 1 || fired[0] != tc.want {
				t.Fatalf("fired at %v, want once at %d", fired, tc.want)
			}
		})
	}
}

func TestTimingWheelRescheduleFromCheck(t *testing.T) {
	var fired []int64
	var w *timingWheel
	c := &Conn{}
	w = newTimingWheel(0, func(c *Conn, tick int64) {
		fired = append(fired, tick)
		if len(fired) < 3 {
			w.schedule(c, tick+10)
		}
	})
	w.schedule(c, 10)
	w.advance(100)
	if len(fired) != 3 || fired[0] != 10 || fired[1] != 20 || fired[2] != 30 {
		t.Fatalf("fired at %v, want [10 20 30]", fired)
	}
}

func TestTimingWheelManyConnections(t *testing.T) {
	count := map[*Conn]int{}
	w := newTimingWheel(0, func(c *Conn, tick int64) { count[c]++ })
	conns := make([]*Conn, 10_000)
	for i := range conns {
		conns[i] = &Conn{}
		w.schedule(conns[i], int64(1+i%3000))
	}
	w.advance(3000)
	for i, c := range conns {
		if count[c] != 1 {
			t.Fatalf("conn %d fired %d times", i, count[c])
		}
	}
}

func BenchmarkTimingWheelSchedule(b *testing.B) {
	w := newTimingWheel(0, func(*Conn, int64) {})
	conns := make([]*Conn, 1024)
	for i := range conns {
		conns[i] = &Conn{}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.schedule(conns[i%len(conns)], int64(i%wheelSlots)+1)
		if i%len(conns) == 0 {
			w.advance(w.tick + wheelSlots) // drain so slices stay bounded
		}
	}
}
