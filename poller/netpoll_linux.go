//go:build linux

package poller

// The netpoll backend: github.com/cloudwego/netpoll owns the listener's and
// the connections' read readiness and reads into its input LinkBuffer;
// everything else is ours.
//
// How it differs from what netpoll does out of the box, and why:
//
//   - Runner: inline. netpoll runs each connection's OnRequest
//     "task" through Config.Runner, by default a goroutine pool. We run it
//     on the netpoll poller goroutine itself (runInline): OnData never
//     blocks and the engine hands work to its own fixed worker pool, so a
//     pool hop would only add a goroutine switch and a goroutine count that
//     grows with busy connections. The cost of inline is a netpoll hazard we
//     must steer around: the task runs inside the poller's handler while it
//     holds the connection's operator, and netpoll's connection finalizer
//     (run by connection.Close when the task notices a user close) spins
//     until that operator is released, which on the same goroutine is never.
//     So we never call netpoll's Connection.Close. Conn.Close shuts the
//     socket down (shutdown(2), SHUT_RDWR) and lets netpoll see a hangup,
//     the path it also takes for a peer close, which runs the close
//     callbacks on its own goroutine outside the handler.
//   - Reading: netpoll keeps calling OnRequest, in a tight loop on the
//     poller goroutine, for as long as its input buffer is non-empty after
//     OnRequest returns, and does not call OnRequest for new bytes while
//     old ones are still buffered. So OnRequest always drains netpoll's
//     buffer: it hands OnData the bytes in place (zero copy when they sit in
//     one node) and copies any unconsumed tail into the Conn's own spill
//     buffer, sized to the tail (a partial frame header costs 16 bytes, not
//     a pinned 1 KiB node). While paused, or while another goroutine is
//     delivering for the Conn, arriving bytes go to the spill the same way.
//     A paused Conn whose spill passes Options.MaxPausedBytes is closed with
//     ErrPausedOverflow.
//   - Buffers: Config.BufferSize is Options.ReadBufferSize (1 KiB default)
//     and netpoll.LinkBufferCap (the smallest node netpoll allocates, 4 KiB
//     by default) is lowered to match, so a connection's input LinkBuffer
//     keeps one node of ReadBufferSize bytes for life (netpoll never frees the
//     tail node of a drained buffer smaller than 8 KiB). netpoll's output
//     LinkBuffer starts with an empty read-only node and allocates only on
//     a write through it; we never write through it.
//   - Writes: Conn.Write is writev on the raw fd (writevFd), never netpoll's
//     Writer/Flush, which blocks on a full socket.
//   - Write readiness: netpoll exposes no way to watch EPOLLOUT for us, so
//     each poller runs one auxiliary epoll instance and goroutine (auxLoop).
//     WantWrite arms the fd there with EPOLLOUT|EPOLLONESHOT; the aux
//     goroutine also delivers ResumeRead's re-delivery and OnClose.
//   - Accepting: netpoll's EventLoop serves a listener of ours
//     (netpollListener) rather than one made by netpoll.ConvertListener,
//     which dups the socket and whose Close closes the dup'd fd number twice.
//     Our Accept creates the netpollConn and hands it to netpoll through the
//     accepted conn's RemoteAddr (see acceptedConn), so netpoll's netFD
//     points at our struct instead of an allocated *net.TCPAddr, and the
//     OnPrepare callback finds the netpollConn without a map lookup.
//
// netpoll's configuration is process-global. The first netpoll Poller in a
// process sets it (Loops → PollerNum, ReadBufferSize → BufferSize and
// LinkBufferCap, the inline Runner); later pollers share the same netpoll
// pollers and buffer sizes whatever their Options say. netpoll's poller
// goroutines live until the process exits.
//
// Callbacks and goroutines: OnOpen (from netpoll's OnPrepare, before the fd
// is registered) and OnData for newly read bytes run on a netpoll poller
// goroutine. OnWritable, OnClose and OnData re-delivered by
// ResumeRead run on the Poller's aux goroutine. Whichever goroutine finds a
// Conn idle delivers its events; one that finds it busy leaves them to the
// goroutine already delivering (see netpollConn.run), so callbacks for one
// Conn never overlap, OnWritable included, and nothing runs after OnClose.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudwego/netpoll"
	"golang.org/x/sys/unix"
)

const defaultNetpollBuf = 1 << 10

// ErrPausedOverflow is the OnClose error for a Conn closed because more than
// Options.MaxPausedBytes arrived while its reading was paused (netpoll
// backend: netpoll cannot stop reading a socket).
var ErrPausedOverflow = errors.New("poller: connection closed: bytes buffered while paused exceeded Options.MaxPausedBytes")

var (
	netpollConfigOnce sync.Once
	netpollConfigErr  error
)

// configureNetpoll sets netpoll's process-global configuration once; see the
// file comment.
func configureNetpoll(loops, bufSize int) error {
	netpollConfigOnce.Do(func() {
		if bufSize < netpoll.LinkBufferCap {
			netpoll.LinkBufferCap = bufSize
		}
		netpollConfigErr = netpoll.Configure(netpoll.Config{
			PollerNum:   loops,
			BufferSize:  bufSize,
			Runner:      runInline,
			LoadBalance: netpoll.RoundRobin,
		})
		if netpollConfigErr == nil {
			netpollConfigErr = startNetpollPollers()
		}
	})
	return netpollConfigErr
}

// startNetpollPollers starts netpoll's pollers now rather than on first use
// in a Serve goroutine: if that fails (epoll_create or eventfd out of fds),
// netpoll dereferences a nil load balancer, which here becomes an error from
// New instead of a crash in the background.
func startNetpollPollers() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("starting netpoll's pollers failed: %v", r)
		}
	}()
	netpoll.Initialize()
	return nil
}

// runInline is netpoll's Config.Runner: a connection's task runs on the
// goroutine that triggers it (the netpoll poller), not on a pool. See the
// file comment for why, and for the one thing this rules out.
func runInline(_ context.Context, task func()) { task() }

type netpollPoller struct {
	h    Handler
	opts Options
	addr *net.TCPAddr
	evl  netpoll.EventLoop

	lnFd      int
	spareFd   int // kept open to shed connections on EMFILE; -1 if none
	stopping  atomic.Bool
	stopOnce  sync.Once
	stopErr   error
	serveDone chan struct{}
	closed    atomic.Bool

	// Lock order: c.mu → p.queueMu. p.mu, c.wmu and the pair above are
	// otherwise never held together.
	mu   sync.Mutex
	byFd []*netpollConn // open conns by fd number; written by accept and close
	open sync.WaitGroup // one count per accepted conn until its close is delivered

	auxFd   int // epoll instance for EPOLLOUT interest (WantWrite)
	wakeFd  int // eventfd in auxFd: queue non-empty or stop
	queueMu sync.Mutex
	queue   []*netpollConn // conns with events for the aux goroutine
	auxStop atomic.Bool
	auxDone chan struct{}

	closeCallback netpoll.CloseCallback // p.onNetpollClose, bound once
}

func newNetpoll(addr string, h Handler, opts Options) (Poller, error) {
	if opts.ReadBufferSize == 0 {
		opts.ReadBufferSize = defaultNetpollBuf
	}
	if err := configureNetpoll(opts.Loops, opts.ReadBufferSize); err != nil {
		return nil, fmt.Errorf("poller: configure netpoll: %w", err)
	}
	p := &netpollPoller{h: h, opts: opts, lnFd: -1, spareFd: -1, auxFd: -1, wakeFd: -1,
		serveDone: make(chan struct{}), auxDone: make(chan struct{})}
	p.closeCallback = p.onNetpollClose
	var err error
	if p.lnFd, p.addr, err = listenTCP(addr, false); err != nil {
		return nil, err
	}
	if err = p.openAux(); err != nil {
		p.closeFds()
		return nil, err
	}
	if p.spareFd, err = unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		p.spareFd = -1 // shedding on EMFILE is best effort
	}
	p.evl, err = netpoll.NewEventLoop(p.onRequest, netpoll.WithOnPrepare(p.onPrepare))
	if err != nil {
		p.closeFds()
		return nil, fmt.Errorf("poller: netpoll event loop: %w", err)
	}
	go p.auxLoop()
	go func() {
		defer close(p.serveDone)
		_ = p.evl.Serve(&netpollListener{p: p})
	}()
	return p, nil
}

func (p *netpollPoller) openAux() error {
	var err error
	if p.auxFd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("poller: epoll_create1: %w", err)
	}
	if p.wakeFd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("poller: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p.wakeFd), Pad: -1}
	if err = unix.EpollCtl(p.auxFd, unix.EPOLL_CTL_ADD, p.wakeFd, &ev); err != nil {
		return fmt.Errorf("poller: epoll_ctl eventfd: %w", err)
	}
	return nil
}

func (p *netpollPoller) closeFds() {
	for _, fd := range []*int{&p.lnFd, &p.spareFd, &p.auxFd, &p.wakeFd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

func (p *netpollPoller) Addr() net.Addr { return p.addr }
func (p *netpollPoller) Loops() int     { return p.opts.Loops }

// StopAccepting shuts the listening socket down, which makes netpoll see a
// hangup on it, take it out of its epoll set and end Serve; only then is the
// fd closed, so netpoll never touches a reused fd number.
func (p *netpollPoller) StopAccepting() error {
	p.stopOnce.Do(func() {
		p.stopping.Store(true)
		if err := unix.Shutdown(p.lnFd, unix.SHUT_RDWR); err != nil {
			// netpoll may still poll the fd: leak it rather than close it.
			p.stopErr = fmt.Errorf("poller: shutdown listener: %w", err)
			return
		}
		<-p.serveDone
		unix.Close(p.lnFd)
		if p.spareFd >= 0 {
			unix.Close(p.spareFd)
		}
	})
	return p.stopErr
}

// Close stops accepting, closes every connection, waits until each has had
// its OnClose, then stops the aux goroutine. netpoll's own pollers are
// process-wide and keep running.
func (p *netpollPoller) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	err := p.StopAccepting()
	p.mu.Lock()
	conns := make([]*netpollConn, 0, 64)
	for _, c := range p.byFd {
		if c != nil {
			conns = append(conns, c)
		}
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.closeWith(closeByUser)
	}
	p.open.Wait()
	p.auxStop.Store(true)
	p.wake()
	<-p.auxDone
	unix.Close(p.auxFd)
	unix.Close(p.wakeFd)
	return err
}

// ---- accepting ----

// netpollListener is the netpoll.Listener netpoll's EventLoop serves. Only
// Accept and Fd are used by netpoll; Close is never called (we do not use
// EventLoop.Shutdown, which also closes every connection).
type netpollListener struct{ p *netpollPoller }

func (l *netpollListener) Addr() net.Addr { return l.p.addr }
func (l *netpollListener) Fd() int        { return l.p.lnFd }
func (l *netpollListener) Close() error   { return nil }

// Accept runs on a netpoll poller goroutine each time the listener is
// readable. (nil, nil) means "nothing to accept" to netpoll.
func (l *netpollListener) Accept() (net.Conn, error) {
	p := l.p
	for {
		if p.stopping.Load() {
			return nil, nil
		}
		fd, sa, err := unix.Accept4(p.lnFd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
		case unix.EAGAIN:
			return nil, nil
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EMFILE, unix.ENFILE:
			// netpoll's own handling of EMFILE detaches the listener and
			// retries from a goroutine that StopAccepting cannot stop, so
			// shed the connection here instead: free the spare fd, accept
			// and close, take the spare back. The listener stays readable
			// only while there is more to shed.
			p.shed()
			return nil, nil
		default:
			return nil, err
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := &netpollConn{p: p, id: connIDs.Add(1), fd: int32(fd), remote: sockaddrToAddrPort(sa)}
		p.mu.Lock()
		if fd >= len(p.byFd) {
			grown := make([]*netpollConn, max(fd+1, 2*len(p.byFd), 1024))
			copy(grown, p.byFd)
			p.byFd = grown
		}
		p.byFd[fd] = c
		p.open.Add(1)
		p.mu.Unlock()
		return (*acceptedConn)(c), nil
	}
}

// shed drops one pending connection while the process is out of fds.
// Without a spare fd to give up it can only slow the level-triggered
// listener's re-reports down, which costs its poller a millisecond.
func (p *netpollPoller) shed() {
	if p.spareFd < 0 {
		time.Sleep(time.Millisecond)
		if fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			p.spareFd = fd
		}
		return
	}
	unix.Close(p.spareFd)
	p.spareFd = -1
	if fd, _, err := unix.Accept4(p.lnFd, unix.SOCK_CLOEXEC); err == nil {
		unix.Close(fd)
	}
	if fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		p.spareFd = fd
	}
}

func (p *netpollPoller) unregister(fd int, c *netpollConn) {
	p.mu.Lock()
	if fd < len(p.byFd) && p.byFd[fd] == c {
		p.byFd[fd] = nil
	}
	p.mu.Unlock()
}

// lookup finds the open conn on fd whose ID has the low 32 bits idLow, so an
// aux event that raced a close and the fd number's reuse is dropped.
func (p *netpollPoller) lookup(fd int32, idLow uint32) *netpollConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fd < 0 || int(fd) >= len(p.byFd) {
		return nil
	}
	if c := p.byFd[fd]; c != nil && uint32(c.id) == idLow {
		return c
	}
	return nil
}

// acceptedConn is what Accept gives netpoll: netpoll copies Fd, LocalAddr and
// RemoteAddr into its connection and drops it. It is the netpollConn itself
// under another method set, so the hand-off allocates nothing.
type acceptedConn netpollConn

var errHandoffOnly = errors.New("poller: netpoll hand-off conn is not for I/O")

func (a *acceptedConn) Fd() int                          { return int(a.fd) }
func (a *acceptedConn) LocalAddr() net.Addr              { return a.p.addr }
func (a *acceptedConn) RemoteAddr() net.Addr             { return (*connAddr)(a) }
func (a *acceptedConn) Read([]byte) (int, error)         { return 0, errHandoffOnly }
func (a *acceptedConn) Write([]byte) (int, error)        { return 0, errHandoffOnly }
func (a *acceptedConn) Close() error                     { return nil }
func (a *acceptedConn) SetDeadline(time.Time) error      { return nil }
func (a *acceptedConn) SetReadDeadline(time.Time) error  { return nil }
func (a *acceptedConn) SetWriteDeadline(time.Time) error { return nil }

// connAddr is the net.Addr netpoll keeps as the connection's remote address:
// our netpollConn again, so netpoll.Connection.RemoteAddr leads back to it.
type connAddr netpollConn

func (a *connAddr) Network() string { return "tcp" }
func (a *connAddr) String() string  { return a.remote.String() }

// connCtx is the context netpoll passes to OnRequest (OnPrepare returns it): the netpollConn once more. It carries no deadline or values.
type connCtx netpollConn

func (*connCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*connCtx) Done() <-chan struct{}       { return nil }
func (*connCtx) Err() error                  { return nil }
func (*connCtx) Value(any) any               { return nil }

func connFromCtx(ctx context.Context) *netpollConn {
	cc, _ := ctx.(*connCtx)
	return (*netpollConn)(cc)
}

// ---- netpoll callbacks ----

// onPrepare runs in netpoll's accept path, on the poller goroutine that
// accepted, before the fd is registered for reading; that is where OnOpen is
// delivered. Nothing else can run for the Conn yet, so OnOpen precedes every
// other callback. (netpoll's OnConnect is not used: netpoll skips it, and
// any bytes already read, if its hang-up path takes the connection first.)
func (p *netpollPoller) onPrepare(nc netpoll.Connection) context.Context {
	a, ok := nc.RemoteAddr().(*connAddr)
	if !ok {
		return context.Background()
	}
	_ = nc.AddCloseCallback(p.closeCallback)
	c := (*netpollConn)(a)
	c.mu.Lock()
	if c.state&stClosing != 0 { // Poller.Close got here first: never surfaced
		c.mu.Unlock()
		return (*connCtx)(a)
	}
	c.state |= stBusy | stOpened
	c.mu.Unlock()
	p.h.OnOpen(c)
	c.run()
	return (*connCtx)(a)
}

// onRequest runs on the netpoll poller goroutine when bytes arrived into an
// empty input buffer. It must leave that buffer empty (see the file comment).
func (p *netpollPoller) onRequest(ctx context.Context, nc netpoll.Connection) error {
	r := nc.Reader()
	c := connFromCtx(ctx)
	if c == nil {
		_ = r.Skip(r.Len())
		return r.Release()
	}
	c.mu.Lock()
	if c.state&(stBusy|stPaused|stClosing) != 0 || len(c.spill) > 0 {
		c.spillLocked(r)
		switch {
		case c.state&stClosing != 0:
			c.mu.Unlock()
		case c.state&stPaused != 0:
			over := len(c.spill) > p.opts.MaxPausedBytes
			c.mu.Unlock()
			if over {
				c.closeWith(closePausedOverflow)
			}
		case c.state&stBusy != 0: // the delivering goroutine will pick it up
			c.state |= evData
			c.mu.Unlock()
		default: // older bytes wait in the spill: deliver spill+new from it
			c.state |= stBusy | evData
			c.mu.Unlock()
			c.run()
		}
		return nil
	}
	c.state |= stBusy
	c.mu.Unlock()
	// Fast path: hand netpoll's bytes over in place. Nothing else reads
	// netpoll's buffer, and nothing appends to it while we run (the inline
	// task holds the only goroutine that reads the socket).
	for {
		n := r.Len()
		if n == 0 {
			break
		}
		data, err := r.Peek(n)
		if err != nil {
			break
		}
		k := clampConsumed(p.h.OnData(c, data), n)
		_ = r.Skip(k)
		if k == 0 || k == n || !c.deliverable() {
			break
		}
	}
	c.mu.Lock()
	c.spillLocked(r)
	c.mu.Unlock()
	c.run()
	return nil
}

// onNetpollClose is netpoll's close callback. It runs once per connection,
// on whichever goroutine netpoll finishes the close, and before netpoll's
// own callback closes the fd (callbacks run newest first), so the fd is
// retired here while its number cannot yet be reused.
func (p *netpollPoller) onNetpollClose(nc netpoll.Connection) error {
	a, ok := nc.RemoteAddr().(*connAddr)
	if !ok {
		return nil
	}
	c := (*netpollConn)(a)
	c.wmu.Lock()
	fd := int(c.fd)
	if fd < 0 {
		c.wmu.Unlock()
		return nil
	}
	if c.wstate&wArmed != 0 {
		_ = unix.EpollCtl(p.auxFd, unix.EPOLL_CTL_DEL, fd, nil)
	}
	c.fd = -1
	c.wmu.Unlock()
	p.unregister(fd, c)
	c.mu.Lock()
	if c.state&stClosing == 0 {
		c.state |= stClosing
		c.why = closeByPeer
	}
	c.state |= evClose
	c.queueLocked()
	c.mu.Unlock()
	return nil
}

// ---- aux goroutine ----

func (p *netpollPoller) auxLoop() {
	defer close(p.auxDone)
	events := make([]unix.EpollEvent, 128)
	var batch []*netpollConn
	for {
		n, err := unix.EpollWait(p.auxFd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			panic(fmt.Sprintf("poller: netpoll aux epoll_wait: %v", err)) // EBADF/EINVAL: a bug
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.wakeFd) && ev.Pad == -1 {
				var buf [8]byte
				_, _ = unix.Read(p.wakeFd, buf[:])
				continue
			}
			if c := p.lookup(ev.Fd, uint32(ev.Pad)); c != nil {
				c.post(evWritable)
			}
		}
		p.queueMu.Lock()
		batch, p.queue = p.queue, batch[:0]
		p.queueMu.Unlock()
		for i, c := range batch {
			c.runQueued()
			batch[i] = nil
		}
		if p.auxStop.Load() {
			return
		}
	}
}

func (p *netpollPoller) enqueue(c *netpollConn) {
	p.queueMu.Lock()
	p.queue = append(p.queue, c)
	first := len(p.queue) == 1
	p.queueMu.Unlock()
	if first {
		p.wake()
	}
}

func (p *netpollPoller) wake() {
	one := [8]byte{7: 1} // eventfd counters are host-endian; any non-zero value wakes
	_, _ = unix.Write(p.wakeFd, one[:])
}

// ---- the connection ----

// netpollConn is one connection of the netpoll backend: 112 bytes on 64-bit
// (one malloc size class), on top of what netpoll keeps per connection.
type netpollConn struct {
	p      *netpollPoller // 8
	ctx    any            // 16 SetContext; written by the handler's goroutine
	id     uint64         // 8
	remote netip.AddrPort // 32 (netip.Addr is 24)

	mu    sync.Mutex // 8 guards spill, state, why
	spill []byte     // 24 unconsumed bytes; nil when empty
	state uint16     // 2 st* and ev* bits
	why   uint8      // 1 close cause, once stClosing

	wstate uint8      // 1 w* bits; guarded by wmu
	fd     int32      // 4 guarded by wmu; -1 once netpoll is closing the fd
	wmu    sync.Mutex // 8 guards fd and wstate against a close racing Write/WantWrite
}

// state bits: st* are conditions, ev* are events waiting to be delivered.
const (
	stBusy     = 1 << iota // a goroutine holds the right to run callbacks (see run)
	stOpened               // OnOpen was delivered, so OnClose will be
	stPaused               // PauseRead: OnData is not called
	stClosing              // Close was called or netpoll reported the conn gone
	stDone                 // OnClose was delivered; nothing runs after this
	stQueued               // on the aux queue
	evData                 // spill holds bytes to deliver
	evWritable             // the fd became writable after WantWrite
	evClose                // netpoll finished closing the conn
)

// wstate bits.
const (
	wArmed  = 1 << iota // the fd is in the aux epoll set
	wClosed             // Close was called: Write and WantWrite fail
)

// close causes.
const (
	closeByUser         = iota // Conn.Close or Poller.Close: OnClose(nil)
	closeByPeer                // netpoll saw a hangup or read error: io.EOF
	closePausedOverflow        // ErrPausedOverflow
)

func (c *netpollConn) ID() uint64                 { return c.id }
func (c *netpollConn) Loop() int                  { return int(c.id % uint64(c.p.opts.Loops)) }
func (c *netpollConn) RemoteAddr() netip.AddrPort { return c.remote }
func (c *netpollConn) SetContext(v any)           { c.ctx = v }
func (c *netpollConn) Context() any               { return c.ctx }

func (c *netpollConn) Write(bufs [][]byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.fd < 0 || c.wstate&wClosed != 0 {
		return 0, ErrClosed
	}
	return writevFd(int(c.fd), bufs)
}

// WantWrite arms the fd in the aux epoll set for one EPOLLOUT (ONESHOT: the
// registration stays, disarmed, after it fires; MOD re-arms it).
func (c *netpollConn) WantWrite() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.fd < 0 || c.wstate&wClosed != 0 {
		return ErrClosed
	}
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: c.fd, Pad: int32(uint32(c.id))}
	op := unix.EPOLL_CTL_MOD
	if c.wstate&wArmed == 0 {
		op = unix.EPOLL_CTL_ADD
	}
	if err := unix.EpollCtl(c.p.auxFd, op, int(c.fd), &ev); err != nil {
		return fmt.Errorf("poller: WantWrite: epoll_ctl: %w", err)
	}
	c.wstate |= wArmed
	return nil
}

func (c *netpollConn) PauseRead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state&stClosing != 0 {
		return ErrClosed
	}
	c.state |= stPaused
	return nil
}

// ResumeRead re-delivers the spill from the aux goroutine (or from whichever
// goroutine is delivering for the Conn right now), not from the caller.
func (c *netpollConn) ResumeRead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state&stClosing != 0 {
		return ErrClosed
	}
	if c.state&stPaused == 0 {
		return nil
	}
	c.state &^= stPaused
	if len(c.spill) > 0 {
		c.state |= evData
		c.queueLocked()
	}
	return nil
}

// Close shuts the socket down; netpoll sees the hangup and closes the fd, and
// OnClose(c, nil) follows. A second Close is a no-op.
func (c *netpollConn) Close() error {
	c.closeWith(closeByUser)
	return nil
}

func (c *netpollConn) closeWith(why uint8) {
	c.mu.Lock()
	if c.state&stClosing != 0 {
		c.mu.Unlock()
		return
	}
	c.state |= stClosing
	c.why = why
	if c.state&stBusy == 0 {
		c.spill = nil // nobody borrows it; free it now
	}
	c.mu.Unlock()
	c.wmu.Lock()
	c.wstate |= wClosed
	if c.fd >= 0 {
		// An error (ENOTCONN) means the socket is already dead, and netpoll
		// sees its hangup just the same.
		_ = unix.Shutdown(int(c.fd), unix.SHUT_RDWR)
	}
	c.wmu.Unlock()
}

func (c *netpollConn) closeErr() error {
	switch c.why {
	case closeByUser:
		return nil
	case closePausedOverflow:
		return ErrPausedOverflow
	default:
		return io.EOF // netpoll does not say whether it was a FIN or a reset
	}
}

func (c *netpollConn) deliverable() bool {
	c.mu.Lock()
	ok := c.state&(stPaused|stClosing) == 0
	c.mu.Unlock()
	return ok
}

// spillLocked moves everything netpoll has buffered into c.spill (or drops
// it once the Conn is closing) and leaves netpoll's buffer empty. c.mu held;
// called only from onRequest, netpoll's single reader of that buffer.
func (c *netpollConn) spillLocked(r netpoll.Reader) {
	n := r.Len()
	if n == 0 {
		return
	}
	if c.state&stClosing == 0 {
		if b, err := r.Peek(n); err == nil {
			c.spill = append(c.spill, b...)
		}
	}
	_ = r.Skip(n)
	_ = r.Release()
}

// consumeSpillLocked drops the k leading spill bytes OnData consumed. c.mu
// held. The spill may have grown since it was handed out; it never shrank.
func (c *netpollConn) consumeSpillLocked(k int) {
	if k >= len(c.spill) || c.state&stClosing != 0 {
		c.spill = nil
		return
	}
	if k == 0 {
		return
	}
	rest := len(c.spill) - k
	if cap(c.spill) >= 1024 && cap(c.spill) > 4*rest {
		c.spill = append([]byte(nil), c.spill[k:]...) // don't pin a large array for a small tail
		return
	}
	copy(c.spill, c.spill[k:])
	c.spill = c.spill[:rest]
}

// queueLocked hands the Conn to the aux goroutine unless a goroutine is
// already delivering for it (that one sees the new event bits). c.mu held.
func (c *netpollConn) queueLocked() {
	if c.state&(stBusy|stQueued) == 0 {
		c.state |= stQueued
		c.p.enqueue(c)
	}
}

// post records ev and delivers it from this goroutine unless another one is
// delivering for the Conn.
func (c *netpollConn) post(ev uint16) {
	c.mu.Lock()
	c.state |= ev
	c.runUnlessBusyLocked()
}

// runQueued is the aux goroutine's turn for a queued Conn.
func (c *netpollConn) runQueued() {
	c.mu.Lock()
	c.state &^= stQueued
	c.runUnlessBusyLocked()
}

// runUnlessBusyLocked takes the right to deliver and runs, unless another
// goroutine holds it (that one will see the recorded events). Called with
// c.mu held; releases it.
func (c *netpollConn) runUnlessBusyLocked() {
	if c.state&stBusy != 0 {
		c.mu.Unlock()
		return
	}
	c.state |= stBusy
	c.mu.Unlock()
	c.run()
}

// run delivers the Conn's pending events. The caller has set stBusy; run
// clears it when nothing is left, under c.mu, so an event recorded by
// another goroutine is either seen here or finds stBusy clear and is
// delivered by that goroutine or the aux queue. After OnClose stBusy stays
// set forever, so no callback can follow it.
func (c *netpollConn) run() {
	h := c.p.h
	c.mu.Lock()
	for {
		switch {
		case c.state&evClose != 0:
			c.state = (c.state | stDone) &^ (evClose | evData | evWritable)
			c.spill = nil
			opened := c.state&stOpened != 0
			c.mu.Unlock()
			if opened {
				h.OnClose(c, c.closeErr())
			}
			c.p.open.Done()
			return
		case c.state&evWritable != 0:
			c.state &^= evWritable
			if c.state&stClosing == 0 {
				c.mu.Unlock()
				h.OnWritable(c)
				c.mu.Lock()
			}
		case c.state&evData != 0:
			c.state &^= evData
			if c.state&(stPaused|stClosing) != 0 || len(c.spill) == 0 {
				continue
			}
			data := c.spill // borrowed by OnData; appends never move these bytes
			c.mu.Unlock()
			k := clampConsumed(h.OnData(c, data), len(data))
			c.mu.Lock()
			c.consumeSpillLocked(k)
			if k > 0 && len(c.spill) > 0 {
				c.state |= evData
			}
		default:
			c.state &^= stBusy
			c.mu.Unlock()
			return
		}
	}
}

func clampConsumed(k, n int) int {
	return min(max(k, 0), n)
}
