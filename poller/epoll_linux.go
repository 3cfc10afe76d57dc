//go:build linux

package poller

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard-chat/switchboard/poller/bufpool"
)

// The epoll backend: Options.Loops event loops, each with its own epoll
// instance, its own SO_REUSEPORT listener, its own read buffer and an eventfd
// for tasks posted from other goroutines. Level-triggered: a loop reads once
// per readiness event, so one busy connection cannot starve the others, and
// pausing a connection is just dropping EPOLLIN from its interest set.
//
// Only the owning loop closes a connection's fd. Conn.Close from elsewhere
// posts a task to the loop; Write and Close serialise on the conn's mutex so a
// write never lands on a recycled fd number.

const (
	epollReadEvents = unix.EPOLLIN
	defaultEpollBuf = 64 << 10
	acceptBatch     = 128
	// acceptRetry is how long a loop stops accepting after EMFILE/ENFILE.
	acceptRetry = 50 * time.Millisecond
)

var connIDs atomic.Uint64

type epollPoller struct {
	h      Handler
	opts   Options
	addr   *net.TCPAddr
	loops  []*eventLoop
	wg     sync.WaitGroup
	closed atomic.Bool
}

type eventLoop struct {
	idx    int
	p      *epollPoller
	epfd   int
	wakeFd int
	lnFd   int // -1 once accepting stopped
	buf    []byte
	conns  map[int32]*epollConn // fd → conn; touched only by this loop

	acceptPausedUntil time.Time

	taskMu sync.Mutex
	tasks  []func()
}

// epollConn is one connection. Field sizes matter at a million connections:
// this struct is ~120 bytes.
type epollConn struct {
	id     uint64
	loop   *eventLoop
	remote netip.AddrPort
	ctx    any
	spill  []byte // unconsumed bytes; nil when empty. Loop-owned.

	// mu guards fd and interest against Close racing Write/WantWrite/Pause.
	mu       sync.Mutex
	fd       int32  // -1 once closed
	interest uint32 // current epoll event mask
	paused   bool
	closing  atomic.Bool
}

func newEpoll(addr string, h Handler, opts Options) (Poller, error) {
	if opts.ReadBufferSize == 0 {
		opts.ReadBufferSize = defaultEpollBuf
	}
	p := &epollPoller{h: h, opts: opts}
	listenAddr := addr
	for i := 0; i < opts.Loops; i++ {
		lnFd, bound, err := listenTCP(listenAddr, true)
		if err != nil {
			p.abort()
			return nil, err
		}
		if i == 0 {
			p.addr = bound
			// Later loops bind the port the first one got (addr may say :0).
			listenAddr = bound.String()
		}
		l, err := newEventLoop(p, i, lnFd)
		if err != nil {
			unix.Close(lnFd)
			p.abort()
			return nil, err
		}
		p.loops = append(p.loops, l)
	}
	for _, l := range p.loops {
		p.wg.Add(1)
		go l.run()
	}
	return p, nil
}

// abort releases what a failed newEpoll had opened.
func (p *epollPoller) abort() {
	for _, l := range p.loops {
		unix.Close(l.lnFd)
		unix.Close(l.wakeFd)
		unix.Close(l.epfd)
	}
}

func newEventLoop(p *epollPoller, idx, lnFd int) (*eventLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("poller: epoll_create1: %w", err)
	}
	wakeFd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("poller: eventfd: %w", err)
	}
	l := &eventLoop{idx: idx, p: p, epfd: epfd, wakeFd: wakeFd, lnFd: lnFd,
		buf: make([]byte, p.opts.ReadBufferSize), conns: make(map[int32]*epollConn)}
	for _, fd := range []int{wakeFd, lnFd} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(wakeFd)
			unix.Close(epfd)
			return nil, fmt.Errorf("poller: epoll_ctl add: %w", err)
		}
	}
	return l, nil
}

func (p *epollPoller) Addr() net.Addr { return p.addr }
func (p *epollPoller) Loops() int     { return len(p.loops) }

func (p *epollPoller) StopAccepting() error {
	p.onEveryLoop(func(l *eventLoop) { l.stopAccepting() })
	return nil
}

func (p *epollPoller) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	p.onEveryLoop(func(l *eventLoop) {
		l.stopAccepting()
		for _, c := range l.conns {
			l.closeConn(c, nil)
		}
	})
	for _, l := range p.loops {
		l.post(nil) // nil task: exit
	}
	p.wg.Wait()
	for _, l := range p.loops {
		unix.Close(l.wakeFd)
		unix.Close(l.epfd)
	}
	return nil
}

// onEveryLoop runs f on each loop's goroutine and waits for all of them.
func (p *epollPoller) onEveryLoop(f func(*eventLoop)) {
	var wg sync.WaitGroup
	for _, l := range p.loops {
		wg.Add(1)
		l.post(func() { f(l); wg.Done() })
	}
	wg.Wait()
}

// post queues a task for the loop goroutine and wakes it. A nil task stops
// the loop.
func (l *eventLoop) post(task func()) {
	l.taskMu.Lock()
	l.tasks = append(l.tasks, task)
	l.taskMu.Unlock()
	var one = [8]byte{1}
	unix.Write(l.wakeFd, one[:])
}

func (l *eventLoop) run() {
	defer l.p.wg.Done()
	events := make([]unix.EpollEvent, 256)
	for {
		timeout := -1
		if !l.acceptPausedUntil.IsZero() {
			timeout = int(acceptRetry / time.Millisecond)
			if time.Now().After(l.acceptPausedUntil) {
				l.resumeAccepting()
			}
		}
		n, err := unix.EpollWait(l.epfd, events, timeout)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			panic(fmt.Sprintf("poller: epoll_wait: %v", err)) // only EBADF/EFAULT/EINVAL: a bug
		}
		for i := 0; i < n; i++ {
			ev := &events[i]
			switch int(ev.Fd) {
			case l.wakeFd:
				if l.runTasks() {
					return
				}
			case l.lnFd:
				l.accept()
			default:
				if c := l.conns[ev.Fd]; c != nil {
					l.handle(c, ev.Events)
				}
			}
		}
	}
}

// runTasks runs posted tasks; it reports whether the loop must exit.
func (l *eventLoop) runTasks() bool {
	var drain [8]byte
	unix.Read(l.wakeFd, drain[:])
	l.taskMu.Lock()
	tasks := l.tasks
	l.tasks = nil
	l.taskMu.Unlock()
	for _, t := range tasks {
		if t == nil {
			return true
		}
		t()
	}
	return false
}

func (l *eventLoop) stopAccepting() {
	if l.lnFd < 0 {
		return
	}
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lnFd, nil)
	unix.Close(l.lnFd)
	l.lnFd = -1
	l.acceptPausedUntil = time.Time{}
}

func (l *eventLoop) resumeAccepting() {
	l.acceptPausedUntil = time.Time{}
	if l.lnFd < 0 {
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.lnFd)}
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.lnFd, &ev)
}

func (l *eventLoop) accept() {
	for i := 0; i < acceptBatch && l.lnFd >= 0; i++ {
		fd, sa, err := unix.Accept4(l.lnFd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			switch err {
			case unix.EAGAIN, unix.EINTR, unix.ECONNABORTED:
				return
			case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
				// Out of fds or memory: stop polling the listener for a while
				// instead of spinning on it; the kernel keeps queuing.
				unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lnFd, nil)
				l.acceptPausedUntil = time.Now().Add(acceptRetry)
				return
			default:
				return
			}
		}
		// Small frames must not wait for Nagle; the engine batches writes.
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := &epollConn{id: connIDs.Add(1), loop: l, fd: int32(fd), remote: sockaddrToAddrPort(sa),
			interest: epollReadEvents}
		ev := unix.EpollEvent{Events: c.interest, Fd: int32(fd)}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(fd)
			continue
		}
		l.conns[int32(fd)] = c
		l.p.h.OnOpen(c)
	}
}

func (l *eventLoop) handle(c *epollConn, events uint32) {
	if events&unix.EPOLLOUT != 0 {
		c.mu.Lock()
		if c.fd >= 0 {
			c.interest &^= unix.EPOLLOUT
			c.modLocked()
		}
		c.mu.Unlock()
		if !c.closing.Load() {
			l.p.h.OnWritable(c)
		}
	}
	if events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		l.read(c, events)
	}
}

func (l *eventLoop) read(c *epollConn, events uint32) {
	if c.closing.Load() {
		return
	}
	c.mu.Lock()
	paused := c.paused
	c.mu.Unlock()
	if paused {
		if events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			// Both directions are gone: nothing we could answer would
			// arrive, and level-triggered HUP would repeat forever.
			l.closeConn(c, io.ErrUnexpectedEOF)
		}
		return
	}
	off := copy(l.buf, c.spill)
	if off == len(l.buf) {
		// The spill fills the buffer: deliver it alone.
		l.deliver(c, l.buf[:off])
		return
	}
	n, err := unix.Read(int(c.fd), l.buf[off:])
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err != nil:
		l.closeConn(c, err)
		return
	case n == 0:
		l.closeConn(c, io.EOF)
		return
	}
	l.deliver(c, l.buf[:off+n])
}

// deliver hands data to OnData and keeps what it did not consume.
func (l *eventLoop) deliver(c *epollConn, data []byte) {
	consumed := l.p.h.OnData(c, data)
	if consumed < 0 || consumed > len(data) {
		panic(fmt.Sprintf("poller: OnData consumed %d of %d bytes", consumed, len(data)))
	}
	if consumed == 0 && len(data) == len(l.buf) {
		l.closeConn(c, errors.New("poller: handler made no progress on a full buffer"))
		return
	}
	l.keepSpill(c, data[consumed:])
}

func (l *eventLoop) keepSpill(c *epollConn, rest []byte) {
	if len(rest) == 0 {
		bufpool.Put(c.spill)
		c.spill = nil
		return
	}
	if cap(c.spill) < len(rest) {
		bufpool.Put(c.spill)
		c.spill = bufpool.Get(len(rest))
	}
	c.spill = c.spill[:len(rest)]
	copy(c.spill, rest) // rest may alias l.buf, never c.spill
}

// closeConn closes c on its loop and runs OnClose once.
func (l *eventLoop) closeConn(c *epollConn, cause error) {
	c.mu.Lock()
	fd := c.fd
	if fd < 0 {
		c.mu.Unlock()
		return
	}
	c.fd = -1
	c.closing.Store(true)
	delete(l.conns, fd)
	unix.Close(int(fd)) // also removes it from the epoll set
	c.mu.Unlock()
	bufpool.Put(c.spill)
	c.spill = nil
	l.p.h.OnClose(c, cause)
}

func (c *epollConn) ID() uint64                 { return c.id }
func (c *epollConn) Loop() int                  { return c.loop.idx }
func (c *epollConn) RemoteAddr() netip.AddrPort { return c.remote }
func (c *epollConn) SetContext(v any)           { c.ctx = v }
func (c *epollConn) Context() any               { return c.ctx }

func (c *epollConn) Write(bufs [][]byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return 0, ErrClosed
	}
	return writevFd(int(c.fd), bufs)
}

func (c *epollConn) WantWrite() error {
	return c.setInterest(func() { c.interest |= unix.EPOLLOUT })
}

func (c *epollConn) PauseRead() error {
	return c.setInterest(func() { c.paused = true; c.interest &^= epollReadEvents })
}

func (c *epollConn) ResumeRead() error {
	err := c.setInterest(func() { c.paused = false; c.interest |= epollReadEvents })
	if err == nil {
		// Bytes left unconsumed before the pause may be all there is: the
		// socket might never be readable again, so hand them over now.
		c.loop.post(func() {
			c.mu.Lock()
			paused := c.paused
			c.mu.Unlock()
			if c.fd >= 0 && !paused && len(c.spill) > 0 && !c.closing.Load() {
				spill := c.spill
				c.spill = nil
				n := copy(c.loop.buf, spill)
				bufpool.Put(spill)
				c.loop.deliver(c, c.loop.buf[:n])
			}
		})
	}
	return err
}

func (c *epollConn) setInterest(change func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return ErrClosed
	}
	change()
	return c.modLocked()
}

func (c *epollConn) modLocked() error {
	ev := unix.EpollEvent{Events: c.interest, Fd: c.fd}
	return unix.EpollCtl(c.loop.epfd, unix.EPOLL_CTL_MOD, int(c.fd), &ev)
}

func (c *epollConn) Close() error {
	if !c.closing.CompareAndSwap(false, true) {
		return nil
	}
	c.loop.post(func() { c.loop.closeConn(c, nil) })
	return nil
}
