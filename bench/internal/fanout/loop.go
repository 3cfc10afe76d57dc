package fanout

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard-chat/switchboard/bench/internal/chatframe"
	"github.com/switchboard-chat/switchboard/bench/internal/evloop"
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/wsframe"
)

// maxFrame bounds a frame the loop accepts from the server.
const maxFrame = 1 << 20

// fconn is one connection of a loop; only the loop goroutine touches it.
type fconn struct {
	*evloop.Conn
	publisher int      // index among all publishers, or -1 for a member
	rooms     []string // the rooms it joins: one for a member, those it publishes to for a publisher
	nextRoom  int      // publishers: the room of the next publish, in turn
	frag      []byte   // a fragmented text message being reassembled (rare)
	joins     int      // joined answers received
	lastSeq   uint64   // members: the last seq seen in their room
}

func (c *fconn) joined() bool { return c.joins >= len(c.rooms) }

// dialJob is one connection a worker dials: its user, its rooms and,
// for a publisher, its index (-1 for a member).
type dialJob struct {
	user      string
	publisher int
	rooms     []string
}

// window is one run's timeline in wall-clock nanoseconds: publish times
// travel between processes in message bodies, so every worker uses the
// same clock.
type window struct {
	start, warmupEnd, end, drainEnd int64
}

// loop drives a worker's connections with one epoll instance and one
// goroutine. Publishers publish open loop at fixed intervals driven by a
// timerfd, each message stamped with the time it was due (not when it went
// out), so a stalled server cannot hide the stall by slowing the publisher
// (coordinated omission).
type loop struct {
	*evloop.Loop
	conns    []*fconn // by evloop.Conn.ID
	pubs     []*fconn
	rate     float64           // messages/s over this loop's publishers
	joinMsgs map[string][]byte // masked join frame per room, shared read-only

	scratch []byte // publish payload under construction
	wbuf    []byte // masked publish frame under construction
	seqNo   []uint64

	win      window
	stats    Counts
	presence uint64 // presence frames received, all connections
	hist     *hist.Histogram
	recvAt   int64 // the batch being handled
}

// newLoop takes ownership of the fds, also on error; each connection's
// job is jobs[Job].
func newLoop(fds []evloop.Dialed, jobs []dialJob, rate float64) (*loop, error) {
	l := &loop{rate: rate, hist: hist.New(), joinMsgs: map[string][]byte{}}
	pubs := 0
	for _, d := range fds {
		j := jobs[d.Job]
		for _, room := range j.rooms {
			if l.joinMsgs[room] == nil {
				l.joinMsgs[room] = wsframe.AppendClientFrame(nil, wsframe.OpText, []byte(`{"type":"join","room":`+strconv.Quote(room)+`}`))
			}
		}
		if j.publisher >= 0 {
			pubs++
		}
	}
	el, err := evloop.New(fds, evloop.Config{
		RBufCap:  4096,
		MaxFrame: maxFrame,
		Timer:    pubs > 0 && rate > 0,
		EOFError: "server closed the TCP connection without a close frame",
	}, l)
	if err != nil {
		return nil, err
	}
	l.Loop = el
	for i, ec := range el.Conns {
		j := jobs[fds[i].Job]
		c := &fconn{Conn: ec, publisher: j.publisher, rooms: j.rooms}
		l.conns = append(l.conns, c)
		if c.publisher >= 0 {
			l.pubs = append(l.pubs, c)
		}
	}
	l.seqNo = make([]uint64, len(l.pubs))
	return l, nil
}

// close closes the epoll instance, the timer and every connection.
func (l *loop) close() { l.Close() }

// join sends every connection's joins and serves events until each has
// its `joined` answers and then until nothing has arrived for quiet (the presence
// broadcasts a join storm causes have been delivered), or the deadline
// passes. It returns how many joined.
func (l *loop) join(deadline time.Time, quiet time.Duration) (members, publishers int, err error) {
	for _, c := range l.conns {
		for _, room := range c.rooms {
			l.Write(c.Conn, l.joinMsgs[room])
		}
	}
	pending := len(l.conns)
	countJoined := func() {
		pending = 0
		for _, c := range l.conns {
			if !c.joined() && !c.Dead {
				pending++
			}
		}
	}
	events := make([]unix.EpollEvent, 256)
	lastRecv := time.Now()
	for pending > 0 || time.Since(lastRecv) < quiet {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		if pending == 0 {
			left = min(left, quiet-time.Since(lastRecv))
		}
		n, err := unix.EpollWait(l.EPFD, events, int(left/time.Millisecond)+1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return 0, 0, fmt.Errorf("epoll_wait: %w", err)
		}
		if n > 0 {
			lastRecv = time.Now()
		}
		l.serve(events[:n], time.Now().UnixNano())
		countJoined()
	}
	for _, c := range l.conns {
		switch {
		case !c.joined() || c.Dead:
		case c.publisher >= 0:
			publishers++
		default:
			members++
		}
	}
	if pending > 0 {
		err = fmt.Errorf("%d connections not joined by the deadline", pending)
	}
	return members, publishers, err
}

// run publishes and receives over win and then drains until win.drainEnd,
// or earlier once nothing has arrived for quietAfter past win.end.
func (l *loop) run(win window) {
	l.win = win
	const quietAfter = 500 * time.Millisecond
	var interval int64
	nextDue := win.start
	rr := 0
	if l.TFD >= 0 {
		interval = int64(float64(time.Second) / l.rate)
		l.ArmTimer(win.start - time.Now().UnixNano())
	}
	events := make([]unix.EpollEvent, 256)
	lastRecv := win.end
	for {
		now := time.Now().UnixNano()
		if now >= win.drainEnd || (now >= win.end && now-lastRecv >= int64(quietAfter)) {
			break
		}
		timeout := win.drainEnd - now
		if now < win.end {
			timeout = win.end - now
		} else {
			timeout = min(timeout, lastRecv+int64(quietAfter)-now)
		}
		n, err := unix.EpollWait(l.EPFD, events, int(timeout/int64(time.Millisecond))+1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			l.stats.LastConnError = "epoll_wait: " + err.Error()
			break
		}
		recvAt := time.Now().UnixNano()
		for _, ev := range events[:n] {
			if ev.Fd != evloop.TimerFD {
				continue
			}
			l.AckTimer()
			l.stats.MaxSendLagNS = max(l.stats.MaxSendLagNS, recvAt-nextDue)
			for nextDue <= recvAt && nextDue < win.end {
				if c := l.nextPublisher(&rr); c != nil {
					l.publish(c, nextDue)
				}
				nextDue += interval
			}
			if nextDue < win.end {
				l.ArmTimer(nextDue - time.Now().UnixNano())
			}
		}
		if l.serve(events[:n], recvAt) > 0 {
			lastRecv = recvAt
		}
	}
}

// serve handles socket events; it returns how many messages arrived.
func (l *loop) serve(events []unix.EpollEvent, recvAt int64) (messages uint64) {
	before := l.stats.DeliveredTotal + l.stats.Acks
	l.recvAt = recvAt
	for _, ev := range events {
		if ev.Fd != evloop.TimerFD {
			l.Serve(ev)
		}
	}
	return l.stats.DeliveredTotal + l.stats.Acks - before
}

func (l *loop) nextPublisher(rr *int) *fconn {
	for range l.pubs {
		c := l.pubs[*rr%len(l.pubs)]
		*rr++
		if !c.Dead {
			return c
		}
	}
	return nil
}

// publish sends one message due at dueNS; its body carries the due time
// and its id is unique across publishers and repetitions' servers.
func (l *loop) publish(c *fconn, dueNS int64) {
	i := 0
	for i < len(l.pubs) && l.pubs[i] != c {
		i++
	}
	l.seqNo[i]++
	room := c.rooms[c.nextRoom]
	c.nextRoom = (c.nextRoom + 1) % len(c.rooms)
	p := append(l.scratch[:0], `{"type":"publish","room":`...)
	p = strconv.AppendQuote(p, room)
	p = append(p, `,"id":"p`...)
	p = strconv.AppendInt(p, int64(c.publisher), 10)
	p = append(p, '-')
	p = strconv.AppendUint(p, l.seqNo[i], 10)
	p = append(p, `","body":{"t":`...)
	p = strconv.AppendInt(p, dueNS, 10)
	p = append(p, `}}`...)
	l.scratch = p
	l.wbuf = wsframe.AppendClientFrame(l.wbuf[:0], wsframe.OpText, p)
	l.stats.Published++
	l.Write(c.Conn, l.wbuf)
}

// Lost counts a lost connection.
func (l *loop) Lost(_ *evloop.Conn, err error) {
	l.stats.ConnsLost++
	l.stats.LastConnError = err.Error()
}

// Closed marks c dead after the server's close frame.
func (l *loop) Closed(c *evloop.Conn, payload []byte) {
	code := 1005 // no code in the frame
	if len(payload) >= 2 {
		code = int(payload[0])<<8 | int(payload[1])
	}
	l.stats.ServerClosed++
	if l.stats.CloseCodes == nil {
		l.stats.CloseCodes = map[int]int{}
	}
	l.stats.CloseCodes[code]++
	l.stats.LastConnError = fmt.Sprintf("server closed with %d %q", code, payload[min(2, len(payload)):])
	l.Kill(c)
}

// Data handles a data frame, reassembling a fragmented message.
func (l *loop) Data(ec *evloop.Conn, h wsframe.Header, payload []byte) {
	c := l.conns[ec.ID]
	if !h.Fin || len(c.frag) > 0 {
		c.frag = append(c.frag, payload...)
		if !h.Fin {
			return
		}
		l.chatFrame(c, c.frag, l.recvAt)
		c.frag = c.frag[:0]
		return
	}
	l.chatFrame(c, payload, l.recvAt)
}

// chatFrame accounts for one server chat frame.
func (l *loop) chatFrame(c *fconn, p []byte, recvAt int64) {
	switch string(chatframe.Type(p)) {
	case "message":
		if c.publisher >= 0 {
			return // the publisher's own copy is not a delivery
		}
		seq, ok1 := chatframe.Int(p, `"seq":`)
		t, ok2 := chatframe.Int(p, `"t":`)
		if !ok1 || !ok2 {
			l.stats.BadFrames++
			return
		}
		switch {
		case seq == c.lastSeq+1:
		case seq <= c.lastSeq:
			l.stats.Dups++
		default:
			l.stats.Gaps += seq - c.lastSeq - 1
		}
		c.lastSeq = max(c.lastSeq, seq)
		l.stats.DeliveredTotal++
		if recvAt >= l.win.warmupEnd && recvAt < l.win.end {
			l.stats.Delivered++
			l.hist.Record(max(0, recvAt-int64(t)))
		}
	case "presence":
		l.presence++
	case "ack":
		l.stats.Acks++
	case "joined":
		c.joins++
		if c.publisher < 0 {
			c.lastSeq, _ = chatframe.Int(p, `"seq":`)
		}
	case "error":
		code := chatframe.String(p, `"code":`)
		if c.publisher >= 0 {
			l.stats.PublishErrors++
			l.stats.LastPubError = code
		} else {
			l.stats.LastConnError = "error frame: " + code
		}
		if !c.joined() {
			l.Lose(c.Conn, fmt.Errorf("join refused: %s", code))
		}
	}
}
