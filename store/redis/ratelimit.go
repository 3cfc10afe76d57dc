package redis

import (
	"context"
	"hash/maphash"
	"strconv"
	"sync"
	"time"
)

// Cluster-wide per-user rate limit: a fixed window per user in Redis,
// counted without a round trip per message. Charge counts locally and
// answers from what the last flush learned; every RateFlush the instance
// adds its counts to the window's key (INCRBY, pipelined for every user
// that sent) and learns the cluster's totals. A user over the limit is
// refused on every instance until the window ends. The limit can be
// overshot by what the instances accept during one flush interval.

const rateShards = 64

type rateLimiter struct {
	seed   maphash.Seed
	shards [rateShards]struct {
		mu    sync.Mutex
		users map[string]*userRate
	}
}

type userRate struct {
	pending   int       // charged since the last flush
	limit     int       // the limit the last charge asked for
	overUntil time.Time // refused until then
}

func (r *rateLimiter) shard(user string) *struct {
	mu    sync.Mutex
	users map[string]*userRate
} {
	return &r.shards[maphash.String(r.seed, user)%rateShards]
}

// Charge implements store.Bus: it counts one message of user and reports
// whether user is over limit messages per window across the cluster.
func (b *Bus) Charge(user string, limit int) (limited bool) {
	sh := b.rate.shard(user)
	now := time.Now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.users == nil {
		sh.users = map[string]*userRate{}
	}
	u := sh.users[user]
	if u == nil {
		u = &userRate{}
		sh.users[user] = u
	}
	if now.Before(u.overUntil) {
		return true
	}
	u.pending++
	u.limit = limit
	return false
}

// rateLoop flushes the counts every RateFlush.
func (b *Bus) rateLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.RateFlush)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
			b.flushRates()
		}
	}
}

type rateCount struct {
	user         string
	count, limit int
}

// flushRates adds this instance's counts to the current window and marks
// the users whose cluster total passed their limit. Users with nothing
// pending and no refusal in force are forgotten.
func (b *Bus) flushRates() {
	now := time.Now()
	var counts []rateCount
	for i := range b.rate.shards {
		sh := &b.rate.shards[i]
		sh.mu.Lock()
		for user, u := range sh.users {
			switch {
			case u.pending > 0:
				counts = append(counts, rateCount{user, u.pending, u.limit})
				u.pending = 0
			case !now.Before(u.overUntil):
				delete(sh.users, user)
			}
		}
		sh.mu.Unlock()
	}
	if len(counts) == 0 || b.Err() != nil {
		return // while Redis is down each instance's own limits stand
	}
	w := b.opts.RateWindow
	window := now.Truncate(w)
	end := window.Add(w)
	suffix := ":" + strconv.FormatInt(window.UnixMilli(), 10)
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Timeout)
	defer cancel()
	pipe := b.client.Pipeline()
	totals := make([]interface{ Val() int64 }, len(counts))
	for i, c := range counts {
		key := b.keys.prefix + "rate:" + c.user + suffix
		totals[i] = pipe.IncrBy(ctx, key, int64(c.count))
		pipe.PExpire(ctx, key, 2*w)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return
	}
	for i, c := range counts {
		if totals[i].Val() <= int64(c.limit) {
			continue
		}
		sh := b.rate.shard(c.user)
		sh.mu.Lock()
		if u := sh.users[c.user]; u != nil {
			u.overUntil = end
		} else {
			if sh.users == nil {
				sh.users = map[string]*userRate{}
			}
			sh.users[c.user] = &userRate{overUntil: end}
		}
		sh.mu.Unlock()
	}
}
