package redis

import (
	"context"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// Cluster-wide per-user connection limit. <prefix>conns:<user> is a hash
// of instance id -> that instance's connections of the user; an instance
// writes its own field as an absolute count (so a retry or a re-register
// after a Redis restart is harmless) and lists the users it wrote in
// <prefix>inst:<id>:conns, which the sweep of a dead instance uses to
// remove its fields.

// connCounts is this instance's connections per user.
type connCounts struct {
	mu    sync.Mutex
	users map[string]int
}

func (c *connCounts) add(user string, d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users == nil {
		c.users = map[string]int{}
	}
	if n := c.users[user] + d; n > 0 {
		c.users[user] = n
	} else {
		delete(c.users, user)
	}
}

func (c *connCounts) get(user string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.users[user]
}

func (c *connCounts) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.users))
	for u := range c.users {
		out = append(out, u)
	}
	return out
}

// connScript writes the instance's count for a user and returns the
// user's total across instances. Like the presence script it registers the
// instance, so that one killed before its first heartbeat is swept.
//
//	KEYS: conns:<user>, the instance's conns set, instances, the
//	      instance's liveness key
//	ARGV: instance id, count, user, TTL in ms
const connScript = `
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SET', KEYS[4], '1', 'PX', ARGV[4], 'NX')
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[3])
end
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
return total
`

func (k keys) conns(user string) string { return k.prefix + "conns:" + user }

func connSetKey(prefix, id string) string { return prefix + "inst:" + id + ":conns" }

// connCmd queues the script with the count as it is when the batch is
// built: the last update wins.
func (b *Bus) connCmd(ctx context.Context, pipe goredis.Pipeliner, user string) *goredis.Cmd {
	return pipe.Eval(ctx, connScript,
		[]string{b.keys.conns(user), connSetKey(b.opts.Prefix, b.opts.InstanceID), b.keys.instances, b.keys.alive},
		b.opts.InstanceID, b.conns.get(user), user, b.opts.TTL.Milliseconds())
}

// OpenConn implements store.Bus.
func (b *Bus) OpenConn(ctx context.Context, user string) (int, error) {
	b.conns.add(user, 1)
	if !b.sub.isUp() {
		b.reconcile.Store(true)
		return 0, errNotConnected
	}
	done := make(chan presenceResult, 1)
	if !b.pipe.enqueue(op{kind: opConns, user: user, done: done}, true, b.opts.MaxQueue) {
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

// CloseConn implements store.Bus.
func (b *Bus) CloseConn(user string) {
	b.conns.add(user, -1)
	if !b.sub.isUp() || !b.pipe.enqueue(op{kind: opConns, user: user}, true, b.opts.MaxQueue) {
		b.reconcile.Store(true)
	}
}

// reconcileConns rewrites this instance's count of every user it has
// connections of or had written.
func (b *Bus) reconcileConns(ctx context.Context) error {
	remote, err := b.client.SMembers(ctx, connSetKey(b.opts.Prefix, b.opts.InstanceID)).Result()
	if err != nil {
		return err
	}
	all := map[string]struct{}{}
	for _, u := range remote {
		all[u] = struct{}{}
	}
	for _, u := range b.conns.all() {
		all[u] = struct{}{}
	}
	for u := range all {
		b.pipe.enqueue(op{kind: opConns, user: u}, false, 0)
	}
	return nil
}
