package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/poller"
	"github.com/switchboard-chat/switchboard/poller/bufpool"
	"github.com/switchboard-chat/switchboard/protocol"
)

// App is an application served at a path. Its callbacks for one connection
// run in order on one worker goroutine; different connections run in
// parallel. A callback may block briefly (a store call) but holds up every
// other connection on its worker while it does.
type App interface {
	// Accept decides whether to upgrade a request. It runs on the event loop
	// and must be quick. It returns a value stored with Conn.SetValue, or
	// the HTTP error to answer with (401, 403, ...). req is borrowed.
	Accept(req *protocol.Request) (any, *protocol.HTTPError)
	// OnOpen runs once the connection is upgraded.
	OnOpen(c *Conn)
	// OnMessage runs for each complete text or binary message. msg is
	// borrowed: it is valid only until OnMessage returns.
	OnMessage(c *Conn, op ws.OpCode, msg []byte)
	// OnClose runs once after the connection is gone.
	OnClose(c *Conn)
}

// Engine serves WebSocket applications on one listener. Create it with New,
// register apps with Handle, then call Start.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	routes  map[string]App
	pages   map[string]HTTPHandler // plain HTTP answers; see HandleHTTP
	hsCfg   protocol.HandshakeConfig
	frame   protocol.FrameConfig
	deflate protocol.FrameConfig

	poller  poller.Poller
	workers *workerPool
	wheels  []*timingWheel
	table   connTable
	stats   counters
	adm     admission

	start     time.Time
	tick      atomic.Int64
	clockStop chan struct{}
	clockDone chan struct{}
	draining  atomic.Bool
	started   bool
	stopOnce  sync.Once
}

// New validates cfg and returns an Engine that is not yet listening.
func New(cfg Config) (*Engine, error) {
	// Defaults only replace zero values, so a negative setting still
	// reaches validate and is reported by name.
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, routes: map[string]App{}}
	e.hsCfg = protocol.HandshakeConfig{MaxHeaderBytes: cfg.MaxHeaderBytes, Protocols: cfg.Subprotocols,
		CheckOrigin: cfg.CheckOrigin, Compression: cfg.Compression}
	e.frame = protocol.FrameConfig{MaxFrameBytes: cfg.MaxFrameBytes, MaxMessageBytes: cfg.MaxMessageBytes}
	e.deflate = e.frame
	e.deflate.Compression = true
	e.adm.init()
	return e, nil
}

// Handle serves app at path (exact match, e.g. "/ws"). Call before Start.
func (e *Engine) Handle(path string, app App) {
	if e.started {
		panic("engine: Handle after Start")
	}
	if e.pages[path] != nil {
		panic("engine: Handle on a path HandleHTTP serves: " + path)
	}
	e.routes[path] = app
}

// Start listens and starts the loops, workers and timing wheels.
func (e *Engine) Start() error {
	e.started = true
	e.start = time.Now()
	e.clockStop, e.clockDone = make(chan struct{}), make(chan struct{})
	for i := 0; i < e.cfg.Loops; i++ {
		e.wheels = append(e.wheels, newTimingWheel(0, e.check))
	}
	e.workers = newWorkerPool(e.cfg.Workers, e.cfg.WorkerQueue, e.runTask)
	p, err := poller.New(e.cfg.Backend, e.cfg.Addr, (*loopHandler)(e), poller.Options{Loops: e.cfg.Loops})
	if err != nil {
		e.workers.stop()
		return err
	}
	e.poller = p
	e.sampleMemory()
	go e.clock()
	e.log.Info("listening", "addr", p.Addr().String(), "backend", e.cfg.Backend, "loops", p.Loops(),
		"workers", e.cfg.Workers)
	return nil
}

// Addr is the listening address (after Start).
func (e *Engine) Addr() net.Addr { return e.poller.Addr() }

// Draining reports whether Shutdown has begun.
func (e *Engine) Draining() bool { return e.draining.Load() }

// Shutdown stops accepting, sends every connection a 1001 close frame whose
// reason says when to reconnect (see Drainer and Config.ReconnectWindow), and
// waits until they are gone or ctx ends; then it force-closes the rest and
// stops the workers and wheels. It returns ctx.Err() if the drain timed out.
func (e *Engine) Shutdown(ctx context.Context) error {
	var err error
	e.stopOnce.Do(func() {
		e.draining.Store(true)
		e.poller.StopAccepting()
		n := 0
		e.table.each(func(c *Conn) {
			e.goAway(c)
			n++
		})
		e.log.Info("draining", "conns", n)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for e.table.len() > 0 && err == nil {
			select {
			case <-ctx.Done():
				err = ctx.Err()
				e.log.Warn("drain deadline passed; closing the rest", "conns", e.table.len())
			case <-tick.C:
			}
		}
		e.poller.Close()
		close(e.clockStop)
		<-e.clockDone
		e.workers.stop()
	})
	return err
}

// now is the engine clock in ticks; ticks converts a duration.
func (e *Engine) now() int64 { return e.tick.Load() }

func (e *Engine) ticks(d time.Duration) int64 {
	t := int64(d / e.cfg.TickInterval)
	if t < 1 {
		t = 1
	}
	return t
}

func (e *Engine) wheelFor(c *Conn) *timingWheel { return e.wheels[c.pc.Loop()%len(e.wheels)] }

// clock advances the engine's tick and every wheel. One goroutine for the
// whole engine: timers do not scale with connections.
func (e *Engine) clock() {
	defer close(e.clockDone)
	t := time.NewTicker(e.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-e.clockStop:
			return
		case now := <-t.C:
			tick := int64(now.Sub(e.start) / e.cfg.TickInterval)
			e.tick.Store(tick)
			for _, w := range e.wheels {
				w.advance(tick)
			}
			e.sampleMemory()
			if tick%ipSweepTicks == 0 {
				e.sweepIPs(tick)
			}
		}
	}
}

// check runs when a connection's wheel entry comes due: handshake deadline,
// keepalive ping, dead-peer detection, idle timeout, close timeout.
func (e *Engine) check(c *Conn, tick int64) {
	w := e.wheelFor(c)
	switch phase(c.phase.Load()) {
	case phaseHandshake:
		deadline := c.lastData.Load() + e.ticks(e.cfg.HandshakeTimeout)
		if tick < deadline {
			w.schedule(c, deadline)
			return
		}
		e.stats.handshakeTimeouts.Add(1)
		c.pc.Close()
	case phaseOpen:
		if sent := c.pingSentAt.Load(); sent != 0 {
			if deadline := sent + e.ticks(e.cfg.PongTimeout); tick < deadline {
				w.schedule(c, deadline)
			} else {
				e.stats.deadPeers.Add(1)
				c.pc.Close()
			}
			return
		}
		if exp := c.expiresAt.Load(); exp != 0 && tick >= exp {
			e.stats.tokenExpiries.Add(1)
			c.Close(protocol.StatusTokenExpired, "token expired; reconnect with a fresh one")
			return
		}
		if e.cfg.IdleTimeout > 0 && tick >= c.lastData.Load()+e.ticks(e.cfg.IdleTimeout) {
			e.stats.idleTimeouts.Add(1)
			c.Close(protocol.StatusIdleTimeout, "idle timeout")
			return
		}
		if tick >= c.lastRead.Load()+e.ticks(e.cfg.PingInterval) {
			c.pingSentAt.Store(tick)
			c.write(pingFrame[:], nil, nil, true)
			w.schedule(c, tick+e.ticks(e.cfg.PongTimeout))
			return
		}
		w.schedule(c, e.nextOpenCheck(c))
	case phaseClosing:
		if deadline := c.closeBy.Load(); tick < deadline {
			w.schedule(c, deadline)
			return
		}
		c.pc.Close()
	}
}

// pingFrame is an empty server ping.
var pingFrame = [2]byte{0x80 | byte(ws.OpPing), 0}

// nextOpenCheck is when an open connection next needs attention: its ping
// is due, or its idle deadline passes.
func (e *Engine) nextOpenCheck(c *Conn) int64 {
	next := c.lastRead.Load() + e.ticks(e.cfg.PingInterval)
	if e.cfg.IdleTimeout > 0 {
		next = min(next, c.lastData.Load()+e.ticks(e.cfg.IdleTimeout))
	}
	if exp := c.expiresAt.Load(); exp != 0 {
		next = min(next, exp)
	}
	return next
}

// tickAt converts a wall-clock time to an engine tick (rounded up, so a
// deadline never fires early).
func (e *Engine) tickAt(t time.Time) int64 {
	d := t.Sub(e.start)
	return int64((d + e.cfg.TickInterval - 1) / e.cfg.TickInterval)
}

// runTask is the worker pool's handler. A panicking application callback
// is a bug in one place; it must not take every other connection down, so it
// is logged with its stack, counted, and its connection is closed with 1011.
func (e *Engine) runTask(t task) {
	defer func() {
		if r := recover(); r != nil {
			e.stats.appPanics.Add(1)
			e.log.Error("application callback panicked", "panic", r, "stack", string(debug.Stack()))
			if t.c != nil {
				t.c.Close(ws.StatusInternalServerError, "internal error")
			}
			if t.kind == taskMessage {
				bufpool.Put(t.msg)
			}
		}
	}()
	c := t.c
	switch t.kind {
	case taskOpen:
		c.app.OnOpen(c)
	case taskMessage:
		e.stats.messagesIn.Add(1)
		if phase(c.phase.Load()) == phaseOpen {
			c.msgAt = t.at
			c.app.OnMessage(c, t.op, t.msg)
		}
		bufpool.Put(t.msg)
	case taskClose:
		c.app.OnClose(c)
	case taskFunc:
		t.fn()
	}
}

// Workers is the size of the worker pool.
func (e *Engine) Workers() int { return e.cfg.Workers }

// Submit runs f on worker w (taken modulo Workers) after every task already
// queued there. Because a connection's callbacks also run on one worker
// (Conn.Worker), work submitted to that worker is ordered with them: this is
// how an application delivers to a connection in a strict order without a
// lock per connection. f must not block for long.
func (e *Engine) Submit(w int, f func()) {
	q := e.workers.queues[w%len(e.workers.queues)]
	q.push(task{kind: taskFunc, fn: f})
}

// dispatch hands a task to c's worker. If the worker's queue is full the
// task is parked on c and c stops reading until it moves in; dispatch then
// reports false and the caller must stop consuming input.
func (e *Engine) dispatch(t task) bool {
	q := e.workers.queueFor(t.c)
	if q.push(t) {
		return true
	}
	e.stats.backpressure.Add(1)
	t.c.pc.PauseRead()
	q.park(t.c, t)
	return false
}

func (c *Conn) resumeRead() { c.pc.ResumeRead() }

// Stats is a snapshot of the engine's counters.
type Stats struct {
	Conns, Handshaking                              int64
	Accepted, Upgraded, HandshakeFailures           uint64
	HandshakeTimeouts, DeadPeers, IdleTimeouts      uint64
	TokenExpiries, AppPanics                        uint64
	SlowConsumers, Rejected503, ProtocolErrors      uint64
	MessagesIn, BytesIn, BytesOut, BackpressureHits uint64
	WorkerQueueDepth                                int
	// MessagesOut counts data messages handed to connections (sent or
	// queued); HandshakeFailuresByStatus splits HandshakeFailures by the
	// HTTP status answered.
	MessagesOut               uint64
	HandshakeFailuresByStatus map[int]uint64
	// Admission: RejectedMemory counts the 503s for MaxMemory (also in
	// Rejected503), Rejected429 the per-IP refusals; MemoryInUse is the
	// last memory reading and TrackedIPs the per-IP table's size.
	RejectedMemory, Rejected429 uint64
	MemoryInUse                 int64
	TrackedIPs                  int
}

type counters struct {
	conns, handshaking                          atomic.Int64
	accepted, upgraded, handshakeFailures       atomic.Uint64
	handshakeTimeouts, deadPeers, idleTimeouts  atomic.Uint64
	tokenExpiries, appPanics                    atomic.Uint64
	slowConsumers, rejected503, protocolErrors  atomic.Uint64
	messagesIn, bytesIn, bytesOut, backpressure atomic.Uint64
	messagesOut                                 atomic.Uint64
	byStatus                                    statusCounters
	rejectedMemory, rejected429                 atomic.Uint64
}

// Stats returns the current counters. Safe for concurrent use.
func (e *Engine) Stats() Stats {
	s := &e.stats
	st := Stats{Conns: s.conns.Load(), Handshaking: s.handshaking.Load(), Accepted: s.accepted.Load(),
		Upgraded: s.upgraded.Load(), HandshakeFailures: s.handshakeFailures.Load(),
		HandshakeTimeouts: s.handshakeTimeouts.Load(), DeadPeers: s.deadPeers.Load(),
		IdleTimeouts: s.idleTimeouts.Load(), TokenExpiries: s.tokenExpiries.Load(), AppPanics: s.appPanics.Load(), SlowConsumers: s.slowConsumers.Load(),
		Rejected503: s.rejected503.Load(), ProtocolErrors: s.protocolErrors.Load(),
		MessagesIn: s.messagesIn.Load(), BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
		BackpressureHits: s.backpressure.Load(), MessagesOut: s.messagesOut.Load(),
		HandshakeFailuresByStatus: s.byStatus.snapshot(), RejectedMemory: s.rejectedMemory.Load(),
		Rejected429: s.rejected429.Load(), MemoryInUse: e.adm.memInUse.Load(), TrackedIPs: e.trackedIPs()}
	if e.workers != nil {
		for _, q := range e.workers.queues {
			st.WorkerQueueDepth += q.Len()
		}
	}
	return st
}

func (e *Engine) String() string { return fmt.Sprintf("engine(%s, %s)", e.cfg.Backend, e.cfg.Addr) }
