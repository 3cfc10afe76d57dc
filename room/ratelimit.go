package room

import (
	"hash/maphash"
	"sync"
	"time"
)

// tokenBucket is a rate limiter. A connection's own bucket is touched only
// on its worker; a user's bucket is guarded by its userLimits shard.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newTokenBucket(rate float64, burst int) tokenBucket {
	return tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *tokenBucket) take(now time.Time) bool {
	// Connections sharing a user's bucket are handled on different
	// workers, so arrival times may come slightly out of order: an earlier
	// time refills nothing rather than draining the bucket.
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

const userLimitShards = 64

// userLimits holds one bucket per connected user, shared by all of that
// user's connections on this instance, so opening more connections does not
// buy more throughput. An entry lives while the user has a connection.
//
// Lock order: a shard's mu is a leaf.
type userLimits struct {
	seed   maphash.Seed
	rate   float64
	burst  int
	shards [userLimitShards]struct {
		mu    sync.Mutex
		users map[string]*userBucket
	}
}

type userBucket struct {
	bucket tokenBucket
	conns  int
}

func newUserLimits(rate float64, burst int) *userLimits {
	return &userLimits{seed: maphash.MakeSeed(), rate: rate, burst: burst}
}

func (u *userLimits) shard(user string) *struct {
	mu    sync.Mutex
	users map[string]*userBucket
} {
	return &u.shards[maphash.String(u.seed, user)%userLimitShards]
}

// open counts one more connection of user and returns how many it has.
func (u *userLimits) open(user string) int {
	sh := u.shard(user)
	sh.mu.Lock()
	if sh.users == nil {
		sh.users = map[string]*userBucket{}
	}
	b := sh.users[user]
	if b == nil {
		b = &userBucket{bucket: newTokenBucket(u.rate, u.burst)}
		sh.users[user] = b
	}
	b.conns++
	n := b.conns
	sh.mu.Unlock()
	return n
}

// close counts one connection less; the last one frees the bucket.
func (u *userLimits) close(user string) {
	sh := u.shard(user)
	sh.mu.Lock()
	if b := sh.users[user]; b != nil {
		b.conns--
		if b.conns <= 0 {
			delete(sh.users, user)
		}
	}
	sh.mu.Unlock()
}

// take spends one token of user's bucket.
func (u *userLimits) take(user string, now time.Time) bool {
	sh := u.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.users[user]
	return b == nil || b.bucket.take(now)
}
