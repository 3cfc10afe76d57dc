package engine

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/poller"
	"github.com/switchboard-chat/switchboard/protocol"
)

// phase is where a connection is in its life.
type phase uint32

const (
	phaseHandshake phase = iota // reading the upgrade request
	phaseOpen                   // upgraded, exchanging frames
	phaseClosing                // our close frame is queued or sent; waiting for the peer's
	phaseClosed                 // the socket is gone
)

// Conn is one client connection as the engine and the application see it.
//
// Concurrency: WriteMessage, WriteFrame, Close, and the accessors are safe
// for concurrent use. Application callbacks for one Conn run in order on one
// worker goroutine.
//
// Ownership: the read side (handshake state, frame reader, message being
// assembled) belongs to the poller loop that owns the socket; the write side
// is guarded by wmu; the timing fields are atomics shared with the wheel.
type Conn struct {
	id  uint64
	e   *Engine
	pc  poller.Conn
	app App

	phase atomic.Uint32

	// Read side, loop-owned.
	hs      *handshake // non-nil only during the handshake
	reader  protocol.Reader
	msg     []byte // message being assembled, from msgPool; nil between messages
	msgOp   ws.OpCode
	inflate bool // the message in msg is compressed
	deflate bool // permessage-deflate was negotiated

	// Backpressure, guarded by the worker queue's mutex.
	pending           task
	closeAfterPending bool

	// Timing, in engine ticks; shared with the timing wheel.
	checkAt    atomic.Int64
	lastRead   atomic.Int64
	lastData   atomic.Int64
	pingSentAt atomic.Int64 // 0 when no ping is outstanding
	closeBy    atomic.Int64 // deadline of the closing phase
	expiresAt  atomic.Int64 // credentials expire at this tick; 0: never

	// Write side.
	wmu      sync.Mutex
	out      outboundQueue
	closeOut bool // a close frame is queued: accept no more data frames
	gotClose bool // the peer's close frame arrived

	// msgAt is the arrival tick of the message being handled; worker-owned.
	msgAt int64

	// Application state; see SetValue.
	value atomic.Value
}

// Worker is the index of the worker goroutine that runs this connection's
// callbacks; see Engine.Submit.
func (c *Conn) Worker() int { return c.worker() }

func (c *Conn) worker() int { return int(c.id % uint64(c.e.cfg.Workers)) }

// ID is the connection's process-unique id.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() netip.AddrPort { return c.pc.RemoteAddr() }

// SetValue stores one application value on the Conn; Value returns it.
// Safe for concurrent use.
func (c *Conn) SetValue(v any) { c.value.Store(v) }

// Value returns what SetValue stored, or nil.
func (c *Conn) Value() any { return c.value.Load() }

// ReceivedAt is when the message now in App.OnMessage arrived (to the
// engine's tick, 100 ms by default). A worker may run a message late when
// the server is behind; limits charged at this time, not the time of
// handling, do not punish a client for the server's backlog. Valid only
// inside OnMessage.
func (c *Conn) ReceivedAt() time.Time {
	return c.e.start.Add(time.Duration(c.msgAt) * c.e.cfg.TickInterval)
}

// SetExpiry makes the engine close the connection with
// protocol.StatusTokenExpired once t passes (the application calls it with
// its token's expiry, typically in OnOpen). The zero time clears it. Safe
// for concurrent use.
func (c *Conn) SetExpiry(t time.Time) {
	if t.IsZero() {
		c.expiresAt.Store(0)
		return
	}
	at := max(c.e.tickAt(t), 1)
	c.expiresAt.Store(at)
	if phase(c.phase.Load()) == phaseOpen {
		c.e.wheelFor(c).schedule(c, min(at, c.e.nextOpenCheck(c)))
	}
}

// handshake is the per-connection state while the upgrade request arrives.
// Its buffer comes from a pool and goes back once the request is complete.
type handshake struct {
	buf    []byte
	parser protocol.HandshakeParser
	// reject is why admission refused the connection; the answer (with
	// retryAfter seconds) goes out once the request is in.
	reject     rejection
	retryAfter int
}

var handshakePool = sync.Pool{New: func() any { return new(handshake) }}
