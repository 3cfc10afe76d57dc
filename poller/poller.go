package poller

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
)

// ErrWouldBlock is returned by Conn.Write when the socket's send buffer is
// full. The bytes before it were written; call Conn.WantWrite to be told by
// Handler.OnWritable when the socket drains.
var ErrWouldBlock = errors.New("poller: write would block")

// ErrClosed is returned by operations on a closed Conn or Poller.
var ErrClosed = errors.New("poller: closed")

// Conn is one accepted TCP connection, owned by one event loop.
//
// Concurrency: every method is safe for concurrent use, but Write must have
// one caller at a time (the engine's single-writer rule). Read-side
// callbacks for a Conn are never run concurrently with each other.
type Conn interface {
	// ID is unique for the life of the process; IDs are never reused, unlike
	// file descriptors.
	ID() uint64
	// Loop is the index, 0..Loops()-1, of the event loop that owns the Conn.
	Loop() int
	// RemoteAddr is the peer address.
	RemoteAddr() netip.AddrPort
	// Write writes bufs with one writev without blocking and returns the
	// number of bytes written. If the socket buffer fills it returns the
	// bytes it wrote and ErrWouldBlock. bufs is only read during the call.
	Write(bufs [][]byte) (int, error)
	// WantWrite asks for one Handler.OnWritable call when the socket can
	// take more bytes.
	WantWrite() error
	// PauseRead stops delivering data for this Conn (backpressure);
	// ResumeRead starts again, first re-delivering any bytes OnData left
	// unconsumed. Both may be called from any goroutine.
	PauseRead() error
	ResumeRead() error
	// Close closes the connection. Handler.OnClose runs exactly once, on the
	// owning loop, after which no other callback runs for this Conn.
	Close() error
	// SetContext and Context hold one value for the Conn's user (the
	// engine's per-connection state).
	SetContext(v any)
	Context() any
}

// Handler receives a poller's events. Every method runs on the loop that owns
// the Conn and must not block: no waiting on locks held by slow code, on
// channels, or on I/O.
type Handler interface {
	// OnOpen runs once for each accepted connection, before any OnData.
	OnOpen(c Conn)
	// OnData hands the bytes that arrived. data is borrowed: it is valid
	// only until OnData returns. OnData returns how many leading bytes it
	// consumed; the rest are kept by the poller (in a small per-connection
	// spill buffer) and handed again, followed by newer bytes, on the next
	// call. A handler must consume bytes whenever it can make progress, so
	// the kept remainder stays small (a partial frame header, a partial
	// control frame).
	OnData(c Conn, data []byte) (consumed int)
	// OnWritable runs once after WantWrite, when the socket can take more.
	OnWritable(c Conn)
	// OnClose runs once when the connection is gone, whoever closed it. err
	// is nil for a close by Conn.Close and the cause otherwise (io.EOF for a
	// peer's orderly shutdown).
	OnClose(c Conn, err error)
}

// Options configures a Poller. The zero value of every field is a documented
// default.
type Options struct {
	// Loops is the number of event loops. Default: runtime.NumCPU().
	Loops int
	// ReadBufferSize is the size of each loop's read buffer (epoll) or of a
	// new connection's first input block (netpoll). Default 64 KiB for
	// epoll, 1 KiB for netpoll.
	ReadBufferSize int
	// MaxPausedBytes bounds the bytes a backend that cannot stop reading the
	// socket (netpoll) may hold for a paused connection before closing it.
	// Default 1 MiB.
	MaxPausedBytes int
}

func (o *Options) setDefaults() {
	if o.Loops == 0 {
		o.Loops = runtime.NumCPU()
	}
	if o.MaxPausedBytes == 0 {
		o.MaxPausedBytes = 1 << 20
	}
}

func (o *Options) validate() error {
	if o.Loops < 0 {
		return fmt.Errorf("poller: Options.Loops must be >= 0, got %d", o.Loops)
	}
	if o.ReadBufferSize < 0 {
		return fmt.Errorf("poller: Options.ReadBufferSize must be >= 0, got %d", o.ReadBufferSize)
	}
	if o.MaxPausedBytes < 0 {
		return fmt.Errorf("poller: Options.MaxPausedBytes must be >= 0, got %d", o.MaxPausedBytes)
	}
	return nil
}

// Poller accepts connections on one TCP address and runs event loops for
// them.
type Poller interface {
	// Addr is the address the poller listens on.
	Addr() net.Addr
	// Loops is the number of event loops.
	Loops() int
	// StopAccepting closes the listener(s); open connections keep working.
	StopAccepting() error
	// Close stops accepting, closes every connection (each gets OnClose) and
	// stops the loops. It waits for the loops to exit.
	Close() error
}

// Backends lists the backend names New accepts.
var Backends = []string{"epoll", "netpoll"}

// New listens on addr ("host:port") and starts a poller using the named
// backend. Events go to h.
func New(backend, addr string, h Handler, opts Options) (Poller, error) {
	if h == nil {
		return nil, errors.New("poller: nil Handler")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	switch backend {
	case "epoll":
		return newEpoll(addr, h, opts)
	case "netpoll":
		return newNetpoll(addr, h, opts)
	default:
		return nil, fmt.Errorf("poller: unknown backend %q (want one of %v)", backend, Backends)
	}
}
