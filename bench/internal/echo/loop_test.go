package echo

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard-chat/switchboard/bench/internal/evloop"
)

func TestSendTimesFIFO(t *testing.T) {
	var c econn
	next := 0 // the index the next pop must return
	pop := func() {
		t.Helper()
		got, ok := c.pop()
		if !ok || got != timeOf(next) {
			t.Fatalf("pop = %v, %v; want %v", got, ok, timeOf(next))
		}
		next++
	}
	for i := range 5000 {
		c.push(timeOf(i))
		if i%3 == 2 {
			// Two pops for every three pushes: a growing backlog that pop
			// must compact without losing order.
			pop()
			pop()
		}
	}
	for c.inflight() > 0 {
		pop()
	}
	if next != 5000 {
		t.Fatalf("popped %d, pushed 5000", next)
	}
	if _, ok := c.pop(); ok {
		t.Fatal("pop of an empty queue succeeded")
	}
}

// TestOpenLoopCountsLatenessFromDueTime is the coordinated-omission
// correction: a loop that wakes up 95 ms late still sends the ten messages
// due in that time, and each echo's latency counts from its due time.
func TestOpenLoopCountsLatenessFromDueTime(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	frame := []byte{0x82, 0x80, 0, 0, 0, 0} // an empty masked binary frame
	l, err := newLoop([]evloop.Dialed{{FD: fds[0]}}, frame, 0, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()

	const interval = 10 * time.Millisecond
	rr := 0
	next := l.sendDue(0, 95*time.Millisecond, time.Second, interval, &rr)
	if next != 100*time.Millisecond || l.stats.Sent != 10 {
		t.Fatalf("next due %v after sending %d; want 100ms after 10", next, l.stats.Sent)
	}
	c := l.conns[0]
	for i := range 10 {
		if got := c.sendTimes[c.head+i]; got != time.Duration(i)*interval {
			t.Fatalf("message %d timed from %v, want its due time %v", i, got, time.Duration(i)*interval)
		}
	}
	// The server echoes them all at 200 ms: the first waited 200 ms, the
	// last 110 ms, whatever the sender's own delay was.
	sch := schedule{warmupEnd: 0, end: time.Second}
	now := func() time.Duration { return 200 * time.Millisecond }
	for range 10 {
		l.echoed(c, 200*time.Millisecond, sch, now)
	}
	if hi := l.stats.Hist.Max(); hi < int64(199*time.Millisecond) {
		t.Errorf("max latency %v, want about 200ms", time.Duration(hi))
	}
	if lo := l.stats.Hist.Min(); lo < int64(109*time.Millisecond) || lo > int64(111*time.Millisecond) {
		t.Errorf("min latency %v, want about 110ms", time.Duration(lo))
	}
	// Nothing more is due before 100 ms, and nothing at or after the end.
	if l.sendDue(next, 99*time.Millisecond, time.Second, interval, &rr) != next || l.sendDue(time.Second, 2*time.Second, time.Second, interval, &rr) != time.Second {
		t.Error("sendDue sent messages that were not due")
	}
}
