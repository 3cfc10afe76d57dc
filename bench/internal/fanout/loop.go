package fanout

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard-chat/switchboard/bench/internal/hist"
)

// maxFrame bounds a frame the loop accepts from the server.
const maxFrame = 1 << 20

// fconn is one connection of a loop; only the loop goroutine touches it.
type fconn struct {
	fd        int
	publisher int // index among all publishers, or -1 for a member
	rbuf      []byte
	out       []byte // bytes a write could not take yet; written on EPOLLOUT
	frag      []byte // a fragmented text message being reassembled (rare)
	joined    bool
	lastSeq   uint64 // members: the last seq seen
	dead      bool
}

// detached is a connection taken out of the Go runtime after its handshake.
type detached struct {
	fd        int
	buffered  []byte
	publisher int
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
	epfd    int
	tfd     int
	conns   []*fconn
	pubs    []*fconn
	room    string
	rate    float64 // messages/s over this loop's publishers
	joinMsg []byte  // masked join frame, shared read-only

	scratch []byte // publish payload under construction
	wbuf    []byte // masked publish frame under construction
	seqNo   []uint64

	win      window
	stats    Counts
	presence uint64 // presence frames received, all connections
	hist     *hist.Histogram
}

// newLoop takes ownership of the fds, also on error.
func newLoop(fds []detached, room string, rate float64) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		for _, d := range fds {
			unix.Close(d.fd)
		}
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	l := &loop{epfd: epfd, tfd: -1, room: room, rate: rate, hist: hist.New(),
		joinMsg: appendClientFrame(nil, opText, []byte(`{"type":"join","room":`+strconv.Quote(room)+`}`))}
	for i, d := range fds {
		c := &fconn{fd: d.fd, publisher: d.publisher, rbuf: make([]byte, 0, 4096)}
		c.rbuf = append(c.rbuf, d.buffered...)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(len(l.conns))}
		l.conns = append(l.conns, c)
		if c.publisher >= 0 {
			l.pubs = append(l.pubs, c)
		}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
			for _, rest := range fds[i+1:] {
				unix.Close(rest.fd)
			}
			l.close()
			return nil, fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	l.seqNo = make([]uint64, len(l.pubs))
	if len(l.pubs) > 0 && rate > 0 {
		tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("timerfd_create: %w", err)
		}
		l.tfd = tfd
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, tfd, &ev); err != nil {
			l.close()
			return nil, fmt.Errorf("epoll_ctl timerfd: %w", err)
		}
	}
	return l, nil
}

// close closes the epoll instance, the timer and every connection.
func (l *loop) close() {
	for _, c := range l.conns {
		if c.fd >= 0 {
			unix.Close(c.fd)
			c.fd = -1
		}
	}
	if l.tfd >= 0 {
		unix.Close(l.tfd)
		l.tfd = -1
	}
	unix.Close(l.epfd)
}

// join sends every connection's join and serves events until each has its
// `joined` and then until nothing has arrived for quiet (the presence
// broadcasts a join storm causes have been delivered), or the deadline
// passes. It returns how many joined.
func (l *loop) join(deadline time.Time, quiet time.Duration) (members, publishers int, err error) {
	for _, c := range l.conns {
		l.write(c, l.joinMsg)
	}
	pending := len(l.conns)
	countJoined := func() {
		pending = 0
		for _, c := range l.conns {
			if !c.joined && !c.dead {
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
		n, err := unix.EpollWait(l.epfd, events, int(left/time.Millisecond)+1)
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
		case !c.joined || c.dead:
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
	if l.tfd >= 0 {
		interval = int64(float64(time.Second) / l.rate)
		l.armTimer(win.start - time.Now().UnixNano())
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
		n, err := unix.EpollWait(l.epfd, events, int(timeout/int64(time.Millisecond))+1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			l.stats.LastConnError = "epoll_wait: " + err.Error()
			break
		}
		recvAt := time.Now().UnixNano()
		for _, ev := range events[:n] {
			if ev.Fd != -1 {
				continue
			}
			var buf [8]byte
			_, _ = unix.Read(l.tfd, buf[:])
			l.stats.MaxSendLagNS = max(l.stats.MaxSendLagNS, recvAt-nextDue)
			for nextDue <= recvAt && nextDue < win.end {
				if c := l.nextPublisher(&rr); c != nil {
					l.publish(c, nextDue)
				}
				nextDue += interval
			}
			if nextDue < win.end {
				l.armTimer(nextDue - time.Now().UnixNano())
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
	for _, ev := range events {
		if ev.Fd == -1 {
			continue
		}
		c := l.conns[ev.Fd]
		if c.dead {
			continue
		}
		if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			l.readConn(c, recvAt)
		}
		if !c.dead && ev.Events&unix.EPOLLOUT != 0 && len(c.out) > 0 {
			l.flush(c)
		}
	}
	return l.stats.DeliveredTotal + l.stats.Acks - before
}

func (l *loop) nextPublisher(rr *int) *fconn {
	for range l.pubs {
		c := l.pubs[*rr%len(l.pubs)]
		*rr++
		if !c.dead {
			return c
		}
	}
	return nil
}

func (l *loop) armTimer(d int64) {
	if d <= 0 {
		d = 1
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d)}
	_ = unix.TimerfdSettime(l.tfd, 0, &spec, nil)
}

// publish sends one message due at dueNS; its body carries the due time
// and its id is unique across publishers and repetitions' servers.
func (l *loop) publish(c *fconn, dueNS int64) {
	i := 0
	for i < len(l.pubs) && l.pubs[i] != c {
		i++
	}
	l.seqNo[i]++
	p := append(l.scratch[:0], `{"type":"publish","room":`...)
	p = strconv.AppendQuote(p, l.room)
	p = append(p, `,"id":"p`...)
	p = strconv.AppendInt(p, int64(c.publisher), 10)
	p = append(p, '-')
	p = strconv.AppendUint(p, l.seqNo[i], 10)
	p = append(p, `","body":{"t":`...)
	p = strconv.AppendInt(p, dueNS, 10)
	p = append(p, `}}`...)
	l.scratch = p
	l.wbuf = appendClientFrame(l.wbuf[:0], opText, p)
	l.stats.Published++
	l.write(c, l.wbuf)
}

// write sends b now if nothing is queued ahead of it, keeping what the
// socket does not take for EPOLLOUT. b is not retained.
func (l *loop) write(c *fconn, b []byte) {
	if len(c.out) > 0 {
		c.out = append(c.out, b...)
		return
	}
	n, err := unix.Write(c.fd, b)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		l.lose(c, fmt.Errorf("write: %w", err))
		return
	}
	n = max(n, 0)
	if n < len(b) {
		c.out = append(c.out, b[n:]...)
	}
}

func (l *loop) flush(c *fconn) {
	n, err := unix.Write(c.fd, c.out)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		l.lose(c, fmt.Errorf("write: %w", err))
		return
	}
	n = max(n, 0)
	rest := copy(c.out, c.out[n:])
	c.out = c.out[:rest]
}

// lose marks c dead. The fd stays open until close so the server's count
// stays honest about what it still holds.
func (l *loop) lose(c *fconn, err error) {
	if c.dead {
		return
	}
	c.dead = true
	l.stats.ConnsLost++
	l.stats.LastConnError = err.Error()
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
}

// closedByServer marks c dead after the server's close frame.
func (l *loop) closedByServer(c *fconn, payload []byte) {
	code := 1005 // no code in the frame
	if len(payload) >= 2 {
		code = int(payload[0])<<8 | int(payload[1])
	}
	c.dead = true
	l.stats.ServerClosed++
	if l.stats.CloseCodes == nil {
		l.stats.CloseCodes = map[int]int{}
	}
	l.stats.CloseCodes[code]++
	l.stats.LastConnError = fmt.Sprintf("server closed with %d %q", code, payload[min(2, len(payload)):])
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
}

// readConn reads until the socket is drained (edge-triggered) and handles
// every complete frame.
func (l *loop) readConn(c *fconn, recvAt int64) {
	for {
		if len(c.rbuf) == cap(c.rbuf) {
			c.rbuf = append(c.rbuf, 0)[:len(c.rbuf)] // grow
		}
		n, err := unix.Read(c.fd, c.rbuf[len(c.rbuf):cap(c.rbuf)])
		if n > 0 {
			c.rbuf = c.rbuf[:len(c.rbuf)+n]
			if !l.parse(c, recvAt) {
				return
			}
		}
		switch {
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			l.lose(c, fmt.Errorf("read: %w", err))
			return
		case n == 0:
			l.lose(c, errors.New("server closed the TCP connection without a close frame"))
			return
		}
	}
}

// parse handles the complete frames at the front of c.rbuf and keeps the
// incomplete rest. It returns false once the connection is dead.
func (l *loop) parse(c *fconn, recvAt int64) bool {
	off := 0
	defer func() {
		if off > 0 {
			rest := copy(c.rbuf, c.rbuf[off:])
			c.rbuf = c.rbuf[:rest]
		}
	}()
	for {
		h, ok, bad := parseHeader(c.rbuf[off:], maxFrame)
		if bad {
			l.lose(c, fmt.Errorf("server frame over %d bytes", maxFrame))
			return false
		}
		if !ok || len(c.rbuf)-off < h.hdrSize+h.length {
			if ok && h.hdrSize+h.length > cap(c.rbuf) {
				grown := make([]byte, len(c.rbuf)-off, h.hdrSize+h.length)
				copy(grown, c.rbuf[off:])
				c.rbuf, off = grown, 0
			}
			return true
		}
		payload := c.rbuf[off+h.hdrSize : off+h.hdrSize+h.length]
		off += h.hdrSize + h.length
		if h.masked { // servers do not mask; tolerate it anyway
			for i := range payload {
				payload[i] ^= h.mask[i%4]
			}
		}
		switch h.op {
		case opText, opBinary, opContinuation:
			if !h.fin || len(c.frag) > 0 {
				c.frag = append(c.frag, payload...)
				if !h.fin {
					break
				}
				l.chatFrame(c, c.frag, recvAt)
				c.frag = c.frag[:0]
				break
			}
			l.chatFrame(c, payload, recvAt)
		case opPing:
			l.write(c, appendClientFrame(nil, opPong, payload))
		case opPong:
		case opClose:
			l.closedByServer(c, payload)
			return false
		default:
			l.lose(c, fmt.Errorf("server sent opcode %#x", h.op))
			return false
		}
		if c.dead {
			return false
		}
	}
}

// chatFrame accounts for one server chat frame.
func (l *loop) chatFrame(c *fconn, p []byte, recvAt int64) {
	switch string(frameType(p)) {
	case "message":
		if c.publisher >= 0 {
			return // the publisher's own copy is not a delivery
		}
		seq, ok1 := intField(p, `"seq":`)
		t, ok2 := intField(p, `"t":`)
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
		c.joined = true
		c.lastSeq, _ = intField(p, `"seq":`)
	case "error":
		code := stringField(p, `"code":`)
		if c.publisher >= 0 {
			l.stats.PublishErrors++
			l.stats.LastPubError = code
		} else {
			l.stats.LastConnError = "error frame: " + code
		}
		if !c.joined {
			l.lose(c, fmt.Errorf("join refused: %s", code))
		}
	}
}
