package postgres

import (
	"context"
	"sync"

	"github.com/switchboard-chat/switchboard/store"
)

// appendReq is one Append waiting for the group commit that carries it.
type appendReq struct {
	ctx  context.Context
	item appendItem
	// done is closed once item.res is final.
	done chan struct{}
}

// committer is the group commit behind Append: a fixed set of
// Options.Committers goroutines, each taking whatever requests are queued
// (at most Options.MaxBatch) into one append transaction. While one
// waits for its commit to reach disk, the requests arriving meanwhile
// queue up for the next, so the batch grows with the load and a lone
// message goes out at once. No goroutine per message; the queue is
// bounded, and a full queue makes Append wait (backpressure) until its ctx
// gives up.
type committer struct {
	s    *Store
	reqs chan *appendReq
	stop chan struct{} // closed by close: committers finish their batch and exit
	gone chan struct{} // closed once every committer has exited
	wg   sync.WaitGroup
}

func newCommitter(s *Store) *committer {
	c := &committer{
		s:    s,
		reqs: make(chan *appendReq, s.opts.MaxBatch*s.opts.Committers),
		stop: make(chan struct{}),
		gone: make(chan struct{}),
	}
	for range s.opts.Committers {
		c.wg.Go(c.run)
	}
	return c
}

// close stops the committers after their current batch. Requests still
// queued are failed by submit with errClosed.
func (c *committer) close() {
	close(c.stop)
	c.wg.Wait()
	close(c.gone)
}

// submit queues req and waits for its result, for ctx, or for the store
// to close.
func (c *committer) submit(ctx context.Context, req *appendReq) store.AppendResult {
	select {
	case c.reqs <- req:
	case <-ctx.Done():
		return store.AppendResult{Err: ctx.Err()}
	case <-c.stop:
		return store.AppendResult{Err: errClosed}
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

func (c *committer) run() {
	maxBatch := c.s.opts.MaxBatch
	batch := make([]*appendReq, 0, maxBatch)
	items := make([]*appendItem, 0, maxBatch)
	for {
		select {
		case r := <-c.reqs:
			batch = append(batch[:0], r)
		case <-c.stop:
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-c.reqs:
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
		close(r.done)
	}
	clear(items)
}
