// Package evloop is the scaffolding the epoll client loops share: one
// epoll instance and one goroutine drive many WebSocket connections that
// were taken out of the Go runtime after their handshake, with an optional
// timerfd for open-loop sending. DialAll connects and detaches them. A
// Loop owns the fds, the write queues and the frame reading; what a frame
// means is the scenario's Handler.
package evloop

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/switchboard-chat/switchboard/bench/internal/wsframe"
)

// TimerFD is the epoll data of the timer's events; a connection's is its ID.
const TimerFD = -1

// Conn is one connection of a loop. Only the loop goroutine touches it.
type Conn struct {
	FD   int
	ID   int    // index in Loop.Conns, and the epoll data of its events
	rbuf []byte // bytes read and not yet parsed, from rbuf[0]
	Out  []byte // bytes that a write could not take yet; written on EPOLLOUT
	Dead bool
}

// Handler gives meaning to the frames a loop reads.
type Handler interface {
	// Data handles one text, binary or continuation frame, unmasked.
	Data(c *Conn, h wsframe.Header, payload []byte)
	// Closed handles the server's close frame; it must mark c dead (Kill
	// or Lose).
	Closed(c *Conn, payload []byte)
	// Lost accounts for a connection that failed (Lose).
	Lost(c *Conn, err error)
}

// Loop owns an epoll instance, its connections and the optional timerfd.
type Loop struct {
	EPFD  int
	TFD   int // -1 without a timer
	Conns []*Conn

	maxFrame int
	eofError string
	h        Handler
}

// Config says how a Loop reads.
type Config struct {
	RBufCap  int    // initial read buffer per connection
	MaxFrame int    // bound on a server frame's payload
	Timer    bool   // create the timerfd
	EOFError string // the loss reported when the server closes the TCP connection
}

// New takes ownership of the connections' fds (their already-read bytes
// go first into each read buffer), also on error.
func New(conns []Dialed, cfg Config, h Handler) (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		for _, d := range conns {
			unix.Close(d.FD)
		}
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	l := &Loop{EPFD: epfd, TFD: -1, maxFrame: cfg.MaxFrame, eofError: cfg.EOFError, h: h}
	for i, d := range conns {
		c := &Conn{FD: d.FD, ID: len(l.Conns), rbuf: make([]byte, 0, cfg.RBufCap)}
		c.rbuf = append(c.rbuf, d.Buffered...)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.ID)}
		l.Conns = append(l.Conns, c)
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, c.FD, &ev); err != nil {
			for _, rest := range conns[i+1:] {
				unix.Close(rest.FD)
			}
			l.Close()
			return nil, fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	if cfg.Timer {
		tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("timerfd_create: %w", err)
		}
		l.TFD = tfd
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: TimerFD}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, tfd, &ev); err != nil {
			l.Close()
			return nil, fmt.Errorf("epoll_ctl timerfd: %w", err)
		}
	}
	return l, nil
}

// Close closes the epoll instance, the timer and every connection.
func (l *Loop) Close() {
	for _, c := range l.Conns {
		if c.FD >= 0 {
			unix.Close(c.FD)
			c.FD = -1
		}
	}
	if l.TFD >= 0 {
		unix.Close(l.TFD)
		l.TFD = -1
	}
	unix.Close(l.EPFD)
}

// ArmTimer makes the timer fire once, ns nanoseconds from now (at once if
// ns is not positive).
func (l *Loop) ArmTimer(ns int64) {
	if ns <= 0 {
		ns = 1
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(ns)}
	_ = unix.TimerfdSettime(l.TFD, 0, &spec, nil)
}

// AckTimer consumes the timer's expiry count.
func (l *Loop) AckTimer() {
	var buf [8]byte
	_, _ = unix.Read(l.TFD, buf[:])
}

// Serve handles one socket event: it reads and handles what arrived and
// writes what was queued. Timer events are the caller's.
func (l *Loop) Serve(ev unix.EpollEvent) {
	c := l.Conns[ev.Fd]
	if c.Dead {
		return
	}
	if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		l.readConn(c)
	}
	if !c.Dead && ev.Events&unix.EPOLLOUT != 0 && len(c.Out) > 0 {
		l.flush(c)
	}
}

// Write sends b now if nothing is queued ahead of it, keeping what the
// socket does not take for EPOLLOUT. b is not retained.
func (l *Loop) Write(c *Conn, b []byte) {
	if len(c.Out) > 0 {
		c.Out = append(c.Out, b...)
		return
	}
	n, err := unix.Write(c.FD, b)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		l.Lose(c, fmt.Errorf("write: %w", err))
		return
	}
	n = max(n, 0)
	if n < len(b) {
		c.Out = append(c.Out, b[n:]...)
	}
}

func (l *Loop) flush(c *Conn) {
	n, err := unix.Write(c.FD, c.Out)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		l.Lose(c, fmt.Errorf("write: %w", err))
		return
	}
	n = max(n, 0)
	rest := copy(c.Out, c.Out[n:])
	c.Out = c.Out[:rest]
}

// Lose marks c dead and reports err to the Handler.
func (l *Loop) Lose(c *Conn, err error) {
	if c.Dead {
		return
	}
	l.h.Lost(c, err)
	l.Kill(c)
}

// Kill marks c dead. The fd stays open until Close so the server's count
// stays honest about what it still holds; epoll stops reporting it.
func (l *Loop) Kill(c *Conn) {
	c.Dead = true
	_ = unix.EpollCtl(l.EPFD, unix.EPOLL_CTL_DEL, c.FD, nil)
}

// readConn reads until the socket is drained (edge-triggered) and handles
// every complete frame.
func (l *Loop) readConn(c *Conn) {
	for {
		if len(c.rbuf) == cap(c.rbuf) {
			c.rbuf = append(c.rbuf, 0)[:len(c.rbuf)] // grow
		}
		n, err := unix.Read(c.FD, c.rbuf[len(c.rbuf):cap(c.rbuf)])
		if n > 0 {
			c.rbuf = c.rbuf[:len(c.rbuf)+n]
			if !l.parse(c) {
				return
			}
		}
		switch {
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			l.Lose(c, fmt.Errorf("read: %w", err))
			return
		case n == 0:
			l.Lose(c, errors.New(l.eofError))
			return
		}
	}
}

// parse handles the complete frames at the front of c.rbuf and keeps the
// incomplete rest. It returns false once the connection is dead.
func (l *Loop) parse(c *Conn) bool {
	off := 0
	defer func() {
		if off > 0 {
			rest := copy(c.rbuf, c.rbuf[off:])
			c.rbuf = c.rbuf[:rest]
		}
	}()
	for {
		h, ok, bad := wsframe.ParseHeader(c.rbuf[off:], l.maxFrame)
		if bad {
			l.Lose(c, fmt.Errorf("server frame over %d bytes", l.maxFrame))
			return false
		}
		if !ok || len(c.rbuf)-off < h.HdrSize+h.Length {
			if ok && h.HdrSize+h.Length > cap(c.rbuf) {
				grown := make([]byte, len(c.rbuf)-off, h.HdrSize+h.Length)
				copy(grown, c.rbuf[off:])
				c.rbuf, off = grown, 0
			}
			return true
		}
		payload := c.rbuf[off+h.HdrSize : off+h.HdrSize+h.Length]
		off += h.HdrSize + h.Length
		if h.Masked { // servers do not mask; tolerate it anyway
			for i := range payload {
				payload[i] ^= h.Mask[i%4]
			}
		}
		switch h.Op {
		case wsframe.OpText, wsframe.OpBinary, wsframe.OpContinuation:
			l.h.Data(c, h, payload)
		case wsframe.OpPing:
			l.Write(c, wsframe.AppendClientFrame(nil, wsframe.OpPong, payload))
		case wsframe.OpPong:
		case wsframe.OpClose:
			l.h.Closed(c, payload)
			return false
		default:
			l.Lose(c, fmt.Errorf("server sent opcode %#x", h.Op))
			return false
		}
		if c.Dead {
			return false
		}
	}
}
