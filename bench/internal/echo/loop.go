package echo

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard-chat/switchboard/bench/internal/evloop"
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/wsframe"
)

// schedule is one measurement's timeline, as offsets from the loop's base
// time (the agreed start).
type schedule struct {
	warmupEnd time.Duration // echoes received before this are not counted
	end       time.Duration // sending stops; the loop returns
}

// loopStats is what one loop measured. Counts are of echoes received in
// the window [warmupEnd, end); Sent counts every message sent.
type loopStats struct {
	Sent          uint64
	Received      uint64 // echoes received in the window
	ReceivedTotal uint64 // echoes received at all
	Outstanding   uint64 // sent, not echoed by the end
	WrongSize     uint64 // echoes whose size differed from what was sent
	ConnsLost     int    // connections that failed or were closed during the run
	LastConnError string
	MaxSendLag    time.Duration // open loop: how far the sender fell behind its schedule
	Hist          *hist.Histogram
}

// econn is one connection of a loop. Only the loop goroutine touches it.
type econn struct {
	*evloop.Conn

	// sendTimes holds, oldest first from head, the send time of every
	// message in flight (the intended time in open loop). The server echoes
	// in order, so an echo always belongs to the oldest.
	sendTimes []time.Duration
	head      int

	msgBytes int // payload of the data message being received so far
}

func (c *econn) inflight() int { return len(c.sendTimes) - c.head }

func (c *econn) push(t time.Duration) { c.sendTimes = append(c.sendTimes, t) }

func (c *econn) pop() (time.Duration, bool) {
	if c.head == len(c.sendTimes) {
		return 0, false
	}
	t := c.sendTimes[c.head]
	c.head++
	switch {
	case c.head == len(c.sendTimes):
		c.sendTimes, c.head = c.sendTimes[:0], 0
	case c.head > 1024 && c.head > len(c.sendTimes)/2:
		// Open loop with a backlog: reclaim the consumed front.
		n := copy(c.sendTimes, c.sendTimes[c.head:])
		c.sendTimes, c.head = c.sendTimes[:n], 0
	}
	return t, true
}

// loop drives a set of connections with one epoll instance and one
// goroutine: no goroutine per connection, nothing spinning. Closed loop
// keeps inflight messages outstanding per connection; open loop (rate > 0)
// sends on the connections in turn at fixed intervals driven by a timerfd,
// and measures each echo from the time its message was due, not from when
// it went out, so a stalled server cannot hide its stall by slowing the
// sender down (coordinated omission).
type loop struct {
	*evloop.Loop
	conns []*econn // by evloop.Conn.ID
	frame []byte   // the masked message, shared read-only by every send
	size  int

	inflight int     // closed loop: messages in flight per connection
	rate     float64 // open loop: messages per second over this loop; 0 = closed loop

	stats loopStats

	// The batch being handled: its timestamp and the run's schedule.
	recvAt time.Duration
	sch    schedule
	now    func() time.Duration
}

// maxEcho bounds a frame the loop accepts from the server.
const maxEcho = 16 << 20

// newLoop takes ownership of the fds, also on error.
func newLoop(fds []evloop.Dialed, frame []byte, size, inflight int, rate float64) (*loop, error) {
	l := &loop{frame: frame, size: size, inflight: inflight, rate: rate,
		stats: loopStats{Hist: hist.New()}}
	el, err := evloop.New(fds, evloop.Config{
		RBufCap:  max(4096, 2*len(frame)),
		MaxFrame: maxEcho,
		Timer:    rate > 0,
		EOFError: "server closed the TCP connection",
	}, l)
	if err != nil {
		return nil, err
	}
	l.Loop = el
	for _, c := range el.Conns {
		l.conns = append(l.conns, &econn{Conn: c})
	}
	return l, nil
}

// close closes the epoll instance, the timer and every connection.
func (l *loop) close() { l.Close() }

// run measures from base until sch.end and returns what it saw. The
// connections stay open (the controller samples the server while they are)
// until close.
func (l *loop) run(base time.Time, sch schedule) loopStats {
	now := func() time.Duration { return time.Since(base) }
	var interval, nextDue time.Duration
	rr := 0
	if l.rate > 0 {
		interval = time.Duration(float64(time.Second) / l.rate)
		l.ArmTimer(1) // fire at once
	} else {
		for _, c := range l.conns {
			for range l.inflight {
				l.send(c, now())
			}
		}
	}
	events := make([]unix.EpollEvent, 256)
	for {
		t := now()
		if t >= sch.end {
			break
		}
		timeoutMS := int((sch.end-t)/time.Millisecond) + 1
		n, err := unix.EpollWait(l.EPFD, events, timeoutMS)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			l.stats.LastConnError = "epoll_wait: " + err.Error()
			break
		}
		// One timestamp for the whole batch: every event in it was ready
		// when epoll_wait returned.
		recvAt := now()
		l.recvAt, l.sch, l.now = recvAt, sch, now
		for _, ev := range events[:n] {
			if ev.Fd == evloop.TimerFD {
				l.AckTimer()
				if lag := recvAt - nextDue; lag > l.stats.MaxSendLag {
					l.stats.MaxSendLag = lag
				}
				nextDue = l.sendDue(nextDue, recvAt, sch.end, interval, &rr)
				if nextDue < sch.end {
					l.ArmTimer(int64(nextDue - now()))
				}
				continue
			}
			l.Serve(ev)
		}
	}
	for _, c := range l.conns {
		if !c.Dead {
			l.stats.Outstanding += uint64(c.inflight())
		}
	}
	return l.stats
}

// sendDue sends every message due by now (and before end), one interval
// apart from nextDue, each timed from when it was due rather than from
// now: a loop that wakes up late, because the machine or the loop itself
// stalled, still charges the wait to the latency it reports instead of
// quietly sending fewer messages (coordinated omission). It returns the
// next due time.
func (l *loop) sendDue(nextDue, now, end, interval time.Duration, rr *int) time.Duration {
	for nextDue <= now && nextDue < end {
		if c := l.nextLive(rr); c != nil {
			l.send(c, nextDue)
		}
		nextDue += interval
	}
	return nextDue
}

// nextLive returns the next connection in turn that is still alive, or nil
// when none is.
func (l *loop) nextLive(rr *int) *econn {
	for range l.conns {
		c := l.conns[*rr%len(l.conns)]
		*rr++
		if !c.Dead {
			return c
		}
	}
	return nil
}

// send queues one message whose latency counts from at.
func (l *loop) send(c *econn, at time.Duration) {
	c.push(at)
	l.stats.Sent++
	l.Write(c.Conn, l.frame)
}

// Data counts a data frame toward the message being received; a final
// frame completes an echo.
func (l *loop) Data(ec *evloop.Conn, h wsframe.Header, _ []byte) {
	c := l.conns[ec.ID]
	c.msgBytes += h.Length
	if h.Fin {
		l.echoed(c, l.recvAt, l.sch, l.now)
	}
}

// Closed loses a connection the server closed.
func (l *loop) Closed(c *evloop.Conn, payload []byte) {
	l.Lose(c, fmt.Errorf("server sent close %x", payload))
}

// Lost counts a lost connection. The fd stays open until close so the
// server's count stays honest about what it still holds.
func (l *loop) Lost(_ *evloop.Conn, err error) {
	l.stats.ConnsLost++
	l.stats.LastConnError = err.Error()
}

// echoed accounts for one complete echo and, in closed loop, sends the
// next message.
func (l *loop) echoed(c *econn, recvAt time.Duration, sch schedule, now func() time.Duration) {
	if c.msgBytes != l.size {
		l.stats.WrongSize++
	}
	c.msgBytes = 0
	sent, ok := c.pop()
	if !ok {
		l.Lose(c.Conn, errors.New("echo for a message never sent"))
		return
	}
	l.stats.ReceivedTotal++
	if recvAt >= sch.warmupEnd && recvAt < sch.end {
		l.stats.Received++
		l.stats.Hist.Record(int64(recvAt - sent))
	}
	if l.rate == 0 {
		if t := now(); t < sch.end {
			l.send(c, t)
		}
	}
}

func closeFD(fd int) { _ = unix.Close(fd) }
