package engine

import (
	"sync"
	"time"

	"github.com/gobwas/ws"
)

type taskKind uint8

const (
	taskOpen taskKind = iota + 1
	taskMessage
	taskClose
	taskFunc // run fn: application work pinned to a worker (fan-out)
)

// task is one unit of application work. A message task owns msg (a pooled
// buffer) until the worker has run the handler.
type task struct {
	c    *Conn
	kind taskKind
	op   ws.OpCode
	msg  []byte
	fn   func()
	at   int64 // engine tick the message arrived at
}

// workerPool is a fixed set of goroutines. Connection id picks the worker, so
// one connection's tasks run in order on one goroutine.
type workerPool struct {
	queues []*taskQueue
	run    func(task)
	wg     sync.WaitGroup
}

func newWorkerPool(n, capacity int, run func(task)) *workerPool {
	p := &workerPool{run: run}
	epoch := time.Now()
	for i := 0; i < n; i++ {
		q := &taskQueue{ring: make([]task, capacity), wake: make(chan struct{}, 1), epoch: epoch}
		p.queues = append(p.queues, q)
		p.wg.Add(1)
		go p.work(q)
	}
	return p
}

func (p *workerPool) queueFor(c *Conn) *taskQueue {
	return p.queues[c.worker()]
}

func (p *workerPool) work(q *taskQueue) {
	defer p.wg.Done()
	for {
		t, resume, ok := q.pop()
		if !ok {
			return
		}
		if resume != nil {
			resume.resumeRead()
		}
		p.run(t)
	}
}

// stop lets each worker finish what is queued, then exit; it waits.
func (p *workerPool) stop() {
	for _, q := range p.queues {
		q.mu.Lock()
		q.stopped = true
		q.mu.Unlock()
		q.signal()
	}
	p.wg.Wait()
}

// taskQueue is a bounded FIFO ring with an overflow list of connections that
// each hold exactly one message that did not fit. A connection in the
// overflow list has its reading paused, so it cannot add more; when a slot
// frees, the oldest overflowed message moves to the tail of the ring, after
// every earlier message of the same connection, and that connection resumes.
//
// Open, close and func tasks are never refused: there is at most one open
// and one close per connection, and func tasks are the application's own
// bounded work (one fan-out per published message and worker), so the ring
// grows past capacity for them rather than losing them.
type taskQueue struct {
	mu       sync.Mutex
	ring     []task
	head, n  int
	overflow []*Conn // each with c.pending set
	wake     chan struct{}
	stopped  bool
	depth    int // high-water mark, for metrics

	// Idle accounting for Engine.WorkerStats, as offsets from epoch. Only
	// a worker about to wait, or just woken, reads the clock: a busy
	// worker pays nothing per task.
	epoch     time.Time
	idle      time.Duration // total time spent waiting for work
	waitStart time.Duration // when the current wait began, if waiting
	waiting   bool
}

// push queues t. It reports false when the ring is full for a message task;
// the caller then parks the message in c.pending and pauses the connection
// by calling park.
func (q *taskQueue) push(t task) bool {
	q.mu.Lock()
	if t.kind == taskMessage && (q.n == len(q.ring) || len(q.overflow) > 0) {
		q.mu.Unlock()
		return false
	}
	if t.kind == taskClose && t.c.pending.kind != 0 {
		// The close must follow the parked message.
		t.c.closeAfterPending = true
		q.mu.Unlock()
		return true
	}
	q.appendLocked(t)
	q.mu.Unlock()
	q.signal()
	return true
}

// park records c (whose pending message is set) as waiting for room. It runs
// under the same decision as a refused push: the caller has already paused
// reading.
func (q *taskQueue) park(c *Conn, t task) {
	q.mu.Lock()
	c.pending = t
	if q.n < len(q.ring) && len(q.overflow) == 0 {
		// Room appeared between push and park: queue it now and keep
		// reading (the caller resumes).
		c.pending = task{}
		q.appendLocked(t)
		q.mu.Unlock()
		q.signal()
		c.resumeRead()
		return
	}
	q.overflow = append(q.overflow, c)
	q.mu.Unlock()
	q.signal()
}

func (q *taskQueue) appendLocked(t task) {
	if q.n == len(q.ring) {
		// Only open/close tasks get here: grow.
		grown := make([]task, 2*len(q.ring)+1)
		for i := 0; i < q.n; i++ {
			grown[i] = q.ring[(q.head+i)%len(q.ring)]
		}
		q.ring, q.head = grown, 0
	}
	q.ring[(q.head+q.n)%len(q.ring)] = t
	q.n++
	if q.n > q.depth {
		q.depth = q.n
	}
}

// pop blocks until a task is available. It also returns the connection whose
// parked message it just moved into the ring, which the caller resumes.
func (q *taskQueue) pop() (t task, resume *Conn, ok bool) {
	for {
		q.mu.Lock()
		if q.waiting {
			q.idle += time.Since(q.epoch) - q.waitStart
			q.waiting = false
		}
		if q.n > 0 {
			t = q.ring[q.head]
			q.ring[q.head] = task{}
			q.head = (q.head + 1) % len(q.ring)
			q.n--
			if len(q.overflow) > 0 && q.n < len(q.ring) {
				c := q.overflow[0]
				q.overflow[0] = nil
				q.overflow = q.overflow[1:]
				q.appendLocked(c.pending)
				c.pending = task{}
				if c.closeAfterPending {
					c.closeAfterPending = false
					q.appendLocked(task{c: c, kind: taskClose})
				} else {
					resume = c
				}
			}
			q.mu.Unlock()
			return t, resume, true
		}
		stopped := q.stopped
		if !stopped {
			q.waitStart, q.waiting = time.Since(q.epoch), true
		}
		q.mu.Unlock()
		if stopped {
			return task{}, nil, false
		}
		<-q.wake
	}
}

// busyLocked is the worker's busy time so far; q.mu is held. Busy time
// only grows while the worker is not waiting, so it never decreases.
func (q *taskQueue) busyLocked() time.Duration {
	now := time.Since(q.epoch)
	idle := q.idle
	if q.waiting {
		idle += now - q.waitStart
	}
	return now - idle
}

func (q *taskQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Len is the number of queued tasks.
func (q *taskQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n + len(q.overflow)
}
