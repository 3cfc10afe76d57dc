package echo

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard-chat/switchboard/bench/internal/hist"
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
	fd   int
	rbuf []byte // bytes read and not yet parsed, from rbuf[0]
	out  []byte // bytes that a write could not take yet; written on EPOLLOUT

	// sendTimes holds, oldest first from head, the send time of every
	// message in flight (the intended time in open loop). The server echoes
	// in order, so an echo always belongs to the oldest.
	sendTimes []time.Duration
	head      int

	msgBytes int // payload of the data message being received so far
	dead     bool
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
	epfd  int
	tfd   int // timerfd, open loop only; -1 otherwise
	conns []*econn
	frame []byte // the masked message, shared read-only by every send
	size  int

	inflight int     // closed loop: messages in flight per connection
	rate     float64 // open loop: messages per second over this loop; 0 = closed loop

	stats loopStats
}

// maxEcho bounds a frame the loop accepts from the server.
const maxEcho = 16 << 20

// detached is a connection taken out of the Go runtime after its handshake
// (wsclient.Conn.Detach): a non-blocking fd and the bytes already read past
// the handshake response.
type detached struct {
	fd       int
	buffered []byte
}

// newLoop takes ownership of the fds, also on error.
func newLoop(fds []detached, frame []byte, size, inflight int, rate float64) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		for _, d := range fds {
			unix.Close(d.fd)
		}
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	l := &loop{epfd: epfd, tfd: -1, frame: frame, size: size, inflight: inflight, rate: rate,
		stats: loopStats{Hist: hist.New()}}
	for i, d := range fds {
		c := &econn{fd: d.fd, rbuf: make([]byte, 0, max(4096, 2*len(frame)))}
		c.rbuf = append(c.rbuf, d.buffered...)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(len(l.conns))}
		l.conns = append(l.conns, c)
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
			for _, rest := range fds[i+1:] {
				unix.Close(rest.fd)
			}
			l.close()
			return nil, fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	if rate > 0 {
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

// run measures from base until sch.end and returns what it saw. The
// connections stay open (the controller samples the server while they are)
// until close.
func (l *loop) run(base time.Time, sch schedule) loopStats {
	now := func() time.Duration { return time.Since(base) }
	var interval, nextDue time.Duration
	rr := 0
	if l.rate > 0 {
		interval = time.Duration(float64(time.Second) / l.rate)
		l.armTimer(1) // fire at once
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
		n, err := unix.EpollWait(l.epfd, events, timeoutMS)
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
		for _, ev := range events[:n] {
			if ev.Fd == -1 {
				var buf [8]byte
				_, _ = unix.Read(l.tfd, buf[:])
				if lag := recvAt - nextDue; lag > l.stats.MaxSendLag {
					l.stats.MaxSendLag = lag
				}
				for nextDue <= recvAt && nextDue < sch.end {
					if c := l.nextLive(&rr); c != nil {
						l.send(c, nextDue)
					}
					nextDue += interval
				}
				if nextDue < sch.end {
					l.armTimer(nextDue - now())
				}
				continue
			}
			c := l.conns[ev.Fd]
			if c.dead {
				continue
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				l.readConn(c, recvAt, sch, now)
			}
			if !c.dead && ev.Events&unix.EPOLLOUT != 0 && len(c.out) > 0 {
				l.flush(c)
			}
		}
	}
	for _, c := range l.conns {
		if !c.dead {
			l.stats.Outstanding += uint64(c.inflight())
		}
	}
	return l.stats
}

// nextLive returns the next connection in turn that is still alive, or nil
// when none is.
func (l *loop) nextLive(rr *int) *econn {
	for range l.conns {
		c := l.conns[*rr%len(l.conns)]
		*rr++
		if !c.dead {
			return c
		}
	}
	return nil
}

func (l *loop) armTimer(d time.Duration) {
	if d <= 0 {
		d = 1
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	_ = unix.TimerfdSettime(l.tfd, 0, &spec, nil)
}

// send queues one message whose latency counts from at.
func (l *loop) send(c *econn, at time.Duration) {
	c.push(at)
	l.stats.Sent++
	l.write(c, l.frame)
}

// write sends b now if nothing is queued ahead of it, keeping what the
// socket does not take for EPOLLOUT.
func (l *loop) write(c *econn, b []byte) {
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

func (l *loop) flush(c *econn) {
	n, err := unix.Write(c.fd, c.out)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		l.lose(c, fmt.Errorf("write: %w", err))
		return
	}
	n = max(n, 0)
	rest := copy(c.out, c.out[n:])
	c.out = c.out[:rest]
}

func (l *loop) lose(c *econn, err error) {
	if c.dead {
		return
	}
	c.dead = true
	l.stats.ConnsLost++
	l.stats.LastConnError = err.Error()
	// Leave the fd open until close so the server's count stays honest
	// about what it still holds; epoll stops reporting it once it is dead
	// here.
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
}

// readConn reads until the socket is drained (edge-triggered) and handles
// every complete frame.
func (l *loop) readConn(c *econn, recvAt time.Duration, sch schedule, now func() time.Duration) {
	for {
		if len(c.rbuf) == cap(c.rbuf) {
			c.rbuf = append(c.rbuf, 0)[:len(c.rbuf)] // grow
		}
		n, err := unix.Read(c.fd, c.rbuf[len(c.rbuf):cap(c.rbuf)])
		if n > 0 {
			c.rbuf = c.rbuf[:len(c.rbuf)+n]
			if !l.parse(c, recvAt, sch, now) {
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
			l.lose(c, errors.New("server closed the TCP connection"))
			return
		}
	}
}

// parse handles the complete frames at the front of c.rbuf and keeps the
// incomplete rest. It returns false when the connection was lost.
func (l *loop) parse(c *econn, recvAt time.Duration, sch schedule, now func() time.Duration) bool {
	off := 0
	defer func() {
		if off > 0 {
			rest := copy(c.rbuf, c.rbuf[off:])
			c.rbuf = c.rbuf[:rest]
		}
	}()
	for {
		h, ok, bad := parseHeader(c.rbuf[off:], maxEcho)
		if bad {
			l.lose(c, fmt.Errorf("server frame over %d bytes", maxEcho))
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
		switch h.op {
		case opBinary, opText, opContinuation:
			c.msgBytes += h.length
			if h.fin {
				l.echoed(c, recvAt, sch, now)
			}
		case opPing:
			if h.masked {
				for i := range payload {
					payload[i] ^= h.mask[i%4]
				}
			}
			l.write(c, clientFrame(opPong, payload))
		case opPong:
		case opClose:
			l.lose(c, fmt.Errorf("server sent close %x", payload))
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

// echoed accounts for one complete echo and, in closed loop, sends the
// next message.
func (l *loop) echoed(c *econn, recvAt time.Duration, sch schedule, now func() time.Duration) {
	if c.msgBytes != l.size {
		l.stats.WrongSize++
	}
	c.msgBytes = 0
	sent, ok := c.pop()
	if !ok {
		l.lose(c, errors.New("echo for a message never sent"))
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
