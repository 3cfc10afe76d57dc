package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// pipeline sends publishes and presence updates to Redis from one
// goroutine, many per round trip, in the order they were queued. Callers
// never wait on Redis unless they ask to (SyncPresence).
type pipeline struct {
	mu      sync.Mutex
	queue   []op
	busy    bool            // a batch is on its way
	failed  map[string]bool // rooms with a publish lost: resync notice due
	closed  bool
	wake    chan struct{}
	failing atomic.Bool // the last batch failed
}

type opKind uint8

const (
	opPublish  opKind = iota // payload on room's channel
	opPresence               // bring (room, user) presence in line with the handler
	opResync                 // ask room's subscribers to resync
	opPing                   // probe Redis after a failure
	opConns                  // write this instance's connection count of user
)

type op struct {
	kind       opKind
	room, user string
	payload    string
	done       chan presenceResult // opPresence and opConns; nil when nobody waits
}

type presenceResult struct {
	online int
	err    error
}

// batchSize caps one round trip.
const batchSize = 512

func (p *pipeline) init() {
	p.failed = map[string]bool{}
	p.wake = make(chan struct{}, 1)
}

var errQueueFull = errors.New("redis: publish queue full")

// enqueue queues o; bounded ops are refused past max. A refused publish
// marks its room for a resync notice.
func (p *pipeline) enqueue(o op, bounded bool, max int) bool {
	p.mu.Lock()
	if p.closed || (bounded && len(p.queue) >= max) {
		if o.kind == opPublish {
			p.failed[o.room] = true
		}
		p.mu.Unlock()
		return false
	}
	p.queue = append(p.queue, o)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return true
}

func (p *pipeline) take() []op {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(batchSize, len(p.queue))
	if n == 0 {
		p.busy = false
		return nil
	}
	batch := make([]op, n)
	copy(batch, p.queue)
	rest := copy(p.queue, p.queue[n:])
	clear(p.queue[rest:])
	p.queue = p.queue[:rest]
	p.busy = true
	return batch
}

// flushFailed turns the rooms whose publish was lost into resync notices.
func (p *pipeline) flushFailed(max int) {
	p.mu.Lock()
	rooms := make([]string, 0, len(p.failed))
	for r := range p.failed {
		rooms = append(rooms, r)
	}
	clear(p.failed)
	p.mu.Unlock()
	for _, r := range rooms {
		p.enqueue(op{kind: opResync, room: r}, false, max)
	}
}

// drain waits up to d for the queue to empty.
func (p *pipeline) drain(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		idle := len(p.queue) == 0 && !p.busy
		p.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// shutdown refuses new ops and answers the waiting ones.
func (p *pipeline) shutdown() {
	p.mu.Lock()
	p.closed = true
	left := p.queue
	p.queue = nil
	p.mu.Unlock()
	for _, o := range left {
		if o.done != nil {
			o.done <- presenceResult{err: unavailable(errClosed)}
		}
	}
}

func (b *Bus) pipelineLoop() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.pipe.wake:
		}
		for {
			batch := b.pipe.take()
			if batch == nil {
				break
			}
			b.exec(batch)
		}
	}
}

// exec sends one batch in one round trip and sorts out the outcomes.
func (b *Bus) exec(batch []op) {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Timeout)
	defer cancel()
	pipe := b.client.Pipeline()
	cmds := make([]goredis.Cmder, len(batch))
	for i := range batch {
		o := &batch[i]
		switch o.kind {
		case opPublish:
			cmds[i] = pipe.Publish(ctx, b.keys.channel(o.room), o.payload)
		case opResync:
			cmds[i] = pipe.Publish(ctx, b.keys.channel(o.room), frame(kindResync, "", nil))
		case opPresence:
			cmds[i] = b.presenceCmd(ctx, pipe, o.room, o.user)
		case opPing:
			cmds[i] = pipe.Ping(ctx)
		case opConns:
			cmds[i] = b.connCmd(ctx, pipe, o.user)
		}
	}
	_, err := pipe.Exec(ctx)
	if err != nil && ctx.Err() == nil && b.ctx.Err() == nil {
		b.log.Debug("redis pipeline failed", "err", err, "ops", len(batch))
	}
	b.pipe.failing.Store(err != nil)
	for i := range batch {
		o := &batch[i]
		cerr := cmds[i].Err()
		switch o.kind {
		case opPublish, opResync:
			if cerr != nil {
				b.pipe.mu.Lock()
				b.pipe.failed[o.room] = true
				b.pipe.mu.Unlock()
			}
		case opPresence, opConns:
			var r presenceResult
			if cerr != nil {
				b.reconcile.Store(true)
				r.err = unavailable(cerr)
			} else {
				n, _ := cmds[i].(*goredis.Cmd).Int()
				r.online = n
			}
			if o.done != nil {
				o.done <- r
			}
		}
	}
}

// Publish implements store.Bus.
func (b *Bus) Publish(room string, payload []byte) {
	b.pipe.enqueue(op{kind: opPublish, room: room, payload: frame(kindApp, b.opts.InstanceID, payload)}, true, b.opts.MaxQueue)
}

// publishAll queues a payload for every instance, this one included.
func (b *Bus) publishAll(room string, payload []byte) {
	b.pipe.enqueue(op{kind: opPublish, room: room, payload: frame(kindAll, "", payload)}, true, b.opts.MaxQueue)
}

// PresenceChanged implements store.Bus. While disconnected it does nothing:
// the reconnect reconciles every entry.
func (b *Bus) PresenceChanged(room, user string) {
	if !b.sub.isUp() || !b.pipe.enqueue(op{kind: opPresence, room: room, user: user}, true, b.opts.MaxQueue) {
		b.reconcile.Store(true)
	}
}

// SyncPresence implements store.Bus.
func (b *Bus) SyncPresence(ctx context.Context, room, user string) (int, error) {
	if !b.sub.isUp() {
		b.reconcile.Store(true)
		return 0, errNotConnected
	}
	done := make(chan presenceResult, 1)
	if !b.pipe.enqueue(op{kind: opPresence, room: room, user: user, done: done}, true, b.opts.MaxQueue) {
		b.reconcile.Store(true)
		return 0, unavailable(errQueueFull)
	}
	select {
	case r := <-done:
		return r.online, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
