package engine

import (
	"sync/atomic"
	"time"
)

// countedStatuses are the HTTP statuses a failed handshake is counted
// under; any other status counts under 0.
var countedStatuses = [...]int{400, 401, 403, 404, 405, 426, 431, 505}

// statusCounters counts failed handshakes by the status answered. Failures
// are the rare path, so a linear search costs nothing that matters.
type statusCounters [len(countedStatuses) + 1]atomic.Uint64

func (s *statusCounters) add(status int) {
	for i, st := range countedStatuses {
		if st == status {
			s[i].Add(1)
			return
		}
	}
	s[len(countedStatuses)].Add(1)
}

// snapshot returns the non-zero counts by status (0: any other status).
func (s *statusCounters) snapshot() map[int]uint64 {
	out := map[int]uint64{}
	for i := range s {
		if n := s[i].Load(); n > 0 {
			status := 0
			if i < len(countedStatuses) {
				status = countedStatuses[i]
			}
			out[status] = n
		}
	}
	return out
}

// handshakeFailed counts a handshake answered with an HTTP error status.
func (e *Engine) handshakeFailed(status int) {
	e.stats.handshakeFailures.Add(1)
	e.stats.byStatus.add(status)
}

// WorkerStat describes one worker of the pool.
type WorkerStat struct {
	// Queued is the messages and tasks waiting for the worker, parked
	// messages of paused connections included.
	Queued int
	// Busy is the time the worker has spent not waiting for work since
	// Start: running tasks, or taking them from its queue. Busy divided by
	// the time elapsed is its utilisation.
	Busy time.Duration
}

// WorkerStats appends one WorkerStat per worker to dst and returns it.
// Safe for concurrent use; a worker's Busy never decreases.
func (e *Engine) WorkerStats(dst []WorkerStat) []WorkerStat {
	if e.workers == nil {
		return dst
	}
	for _, q := range e.workers.queues {
		q.mu.Lock()
		st := WorkerStat{Queued: q.n + len(q.overflow), Busy: q.busyLocked()}
		q.mu.Unlock()
		dst = append(dst, st)
	}
	return dst
}
