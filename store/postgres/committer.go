package postgres

import (
	"context"
	"hash/maphash"
	"sync"

	"github.com/switchboard-chat/switchboard/store"
)

// appendReq is one Append waiting for the group commit that carries it.
type appendReq struct {
	ctx  context.Context
	item appendItem
	// done is closed once item.res is final (Append, which waits on it);
	// nil when cb takes the result instead (AppendAsync).
	done chan struct{}
	cb   func(store.AppendResult)
}

// finish hands req its final result: to cb, or by closing done.
func (req *appendReq) finish() {
	if req.cb != nil {
		req.cb(req.item.res)
		return
	}
	close(req.done)
}

// committer is the group commit behind Append: Options.Committers
// goroutines, each owning the rooms that hash to it and a bounded queue.
// Each takes whatever requests its queue holds (at most Options.MaxBatch)
// into one append transaction; while that waits for its commit to reach
// disk, the requests arriving meanwhile queue up for the next, so the
// batch grows with the load and a lone message goes out at once.
//
// Sharding by room means this instance never has two append transactions
// waiting on one room's lock (that wait, and PostgreSQL's lock hand-over,
// would cost more than the batching saves); transactions for different
// shards run side by side and PostgreSQL flushes their commits together.
// No goroutine per message; a full queue makes Append wait (backpressure)
// until its ctx gives up.
type committer struct {
	s      *Store
	seed   maphash.Seed
	shards []chan *appendReq
	stop   chan struct{} // closed by close: committers finish their batch and exit
	gone   chan struct{} // closed once every committer has exited
	wg     sync.WaitGroup

	// enq is held (read) while a request is put on a queue; close takes it
	// to know that nothing is put there any more before failing what is
	// left queued.
	enq    sync.RWMutex
	closed bool // guarded by enq
}

func newCommitter(s *Store) *committer {
	c := &committer{
		s:      s,
		seed:   maphash.MakeSeed(),
		shards: make([]chan *appendReq, s.opts.Committers),
		stop:   make(chan struct{}),
		gone:   make(chan struct{}),
	}
	for i := range c.shards {
		c.shards[i] = make(chan *appendReq, s.opts.MaxBatch)
		c.wg.Go(func() { c.run(c.shards[i]) })
	}
	return c
}

// close stops the committers after their current batch, then fails the
// requests still queued with errClosed.
func (c *committer) close() {
	close(c.stop)
	c.enq.Lock()
	c.closed = true
	c.enq.Unlock()
	c.wg.Wait()
	for _, shard := range c.shards {
		for len(shard) > 0 {
			r := <-shard
			r.item.res = store.AppendResult{Err: errClosed}
			r.finish()
		}
	}
	close(c.gone)
}

// enqueue puts req on its room's shard, waiting for room until ctx ends or
// the store closes; it reports why not. Requests of one room put here by
// one goroutine are committed in that order (one shard, one FIFO queue).
func (c *committer) enqueue(ctx context.Context, req *appendReq) error {
	shard := c.shards[maphash.String(c.seed, req.item.msg.Room)%uint64(len(c.shards))]
	c.enq.RLock()
	defer c.enq.RUnlock()
	if c.closed {
		return errClosed
	}
	select {
	case shard <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return errClosed
	}
}

// submit queues req on its room's shard and waits for its result, for
// ctx, or for the store to close.
func (c *committer) submit(ctx context.Context, req *appendReq) store.AppendResult {
	if err := c.enqueue(ctx, req); err != nil {
		return store.AppendResult{Err: err}
	}
	select {
	case <-req.done:
		return req.item.res
	case <-ctx.Done():
		// The batch may still commit it: the caller retries with the same
		// id to find out (store.Messages.Append).
		return store.AppendResult{Err: ctx.Err()}
	case <-c.gone:
		select {
		case <-req.done:
			return req.item.res
		default:
			return store.AppendResult{Err: errClosed}
		}
	}
}

// run is one committer: it drains its shard's queue batch by batch.
func (c *committer) run(queue chan *appendReq) {
	maxBatch := c.s.opts.MaxBatch
	batch := make([]*appendReq, 0, maxBatch)
	items := make([]*appendItem, 0, maxBatch)
	for {
		select {
		case r := <-queue:
			batch = append(batch[:0], r)
		case <-c.stop:
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		c.commit(batch, items[:0])
		clear(batch) // drop the references until the slots are reused
	}
}

// commit runs one append transaction for batch and hands every request
// its result.
func (c *committer) commit(batch []*appendReq, items []*appendItem) {
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil { // the caller gave up: store nothing
			r.item.skip, r.item.res = true, store.AppendResult{Err: err}
		}
		items = append(items, &r.item)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.s.callTimeout)
	err := c.s.result(context.Background(), "append", c.s.appendTx(ctx, items))
	cancel()
	for _, r := range batch {
		if err != nil && !r.item.skip {
			r.item.res = store.AppendResult{Err: err}
		}
		r.finish()
	}
	clear(items)
}
