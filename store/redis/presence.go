package redis

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Presence in Redis: online:<room> counts, per user, the instances the
// user is connected to that room on; an instance's presence set lists the
// (room, user) pairs it counted, so that a survivor can undo them when the
// instance dies. One liveness key per instance, refreshed every Heartbeat
// and expiring TTL later, says who is alive: a heartbeat costs the same
// whatever the number of users.
//
// The scripts run atomically, so the instance that moves a count from 0 to
// 1 (or 1 to 0) is the one that announces it, exactly once, in order with
// the other changes to that room.

// presenceScript brings one (room, user) pair of an instance in line. It
// registers the instance too (with a liveness key if it has none yet), so
// that an instance killed before its first heartbeat is still swept.
//
//	KEYS: the instance's presence set, online:<room>, the room's channel,
//	      instances, the instance's liveness key
//	ARGV: "<room>\0<user>", user, "1" if present else "0", announcement
//	      payload ("" for none), announcement limit, instance id, TTL in ms
//
// It returns the room's online count afterwards.
const presenceScript = `
local n
redis.call('SADD', KEYS[4], ARGV[6])
redis.call('SET', KEYS[5], '1', 'PX', ARGV[7], 'NX')
if ARGV[3] == '1' then
  if redis.call('SADD', KEYS[1], ARGV[1]) == 1 and redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then
    n = redis.call('HLEN', KEYS[2])
    if ARGV[4] ~= '' and n <= tonumber(ARGV[5]) then redis.call('PUBLISH', KEYS[3], ARGV[4]) end
    return n
  end
elseif redis.call('SREM', KEYS[1], ARGV[1]) == 1 and redis.call('HINCRBY', KEYS[2], ARGV[2], -1) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[2])
  n = redis.call('HLEN', KEYS[2])
  if ARGV[4] ~= '' and n < tonumber(ARGV[5]) then redis.call('PUBLISH', KEYS[3], ARGV[4]) end
  return n
end
return redis.call('HLEN', KEYS[2])
`

// heartbeatScript registers the instance and refreshes its liveness. It
// returns 1 when the instance was not registered: new, swept by a survivor
// that took it for dead, or forgotten by a Redis restart.
//
//	KEYS: instances, the instance's liveness key
//	ARGV: instance id, TTL in milliseconds
const heartbeatScript = `
local added = redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return added
`

// sweepScript takes a dead instance's users offline, once: the survivor
// whose call removes it from the instances set does the work. Every room
// it had users in is told to resync, since the instance may have stored a
// message it never relayed. It returns "<room>\0<user>", online count
// pairs for the users who went offline across the cluster, or nil.
//
//	KEYS: instances, the instance's liveness key, its presence set, its
//	      conns set
//	ARGV: instance id, key prefix, resync payload
const sweepScript = `
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return false end
for _, u in ipairs(redis.call('SMEMBERS', KEYS[4])) do redis.call('HDEL', ARGV[2] .. 'conns:' .. u, ARGV[1]) end
redis.call('DEL', KEYS[4])
local out, rooms = {}, {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local sep = string.find(m, '\0', 1, true)
  if sep then
    local room, user = string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
    local key = ARGV[2] .. 'online:' .. room
    rooms[room] = true
    if redis.call('HINCRBY', key, user, -1) <= 0 then
      redis.call('HDEL', key, user)
      table.insert(out, m)
      table.insert(out, redis.call('HLEN', key))
    end
  end
end
redis.call('DEL', KEYS[3])
for room in pairs(rooms) do redis.call('PUBLISH', ARGV[2] .. 'room:' .. room, ARGV[3]) end
return out
`

func member(room, user string) string { return room + "\x00" + user }

func splitMember(m string) (room, user string, ok bool) {
	return strings.Cut(m, "\x00")
}

// presenceCmd queues the presence script for (room, user) on pipe, with
// the handler's view of it taken now: whatever was queued before has run
// by the time Redis sees this, so the last call wins.
func (b *Bus) presenceCmd(ctx context.Context, pipe goredis.Pipeliner, room, user string) *goredis.Cmd {
	present := b.h.Present(room, user)
	flag := "0"
	if present {
		flag = "1"
	}
	payload, limit := b.h.Announcement(room, user, present)
	announce := ""
	if payload != nil {
		announce = frame(kindAll, "", payload)
	}
	return pipe.Eval(ctx, presenceScript,
		[]string{b.keys.presence, b.keys.online(room), b.keys.channel(room), b.keys.instances, b.keys.alive},
		member(room, user), user, flag, announce, limit, b.opts.InstanceID, b.opts.TTL.Milliseconds())
}

// Online implements store.Bus.
func (b *Bus) Online(ctx context.Context, room string, users []string) (int, []bool, error) {
	if err := b.Err(); err != nil {
		return 0, nil, err
	}
	pipe := b.client.Pipeline()
	count := pipe.HLen(ctx, b.keys.online(room))
	var vals *goredis.SliceCmd
	if len(users) > 0 {
		vals = pipe.HMGet(ctx, b.keys.online(room), users...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, nil, unavailable(err)
	}
	online := make([]bool, len(users))
	if vals != nil {
		for i, v := range vals.Val() {
			online[i] = v != nil
		}
	}
	return int(count.Val()), online, nil
}

// heartbeatLoop is the instance's periodic task: it watches the pub/sub
// connection, retries what failed, refreshes liveness and sweeps dead
// instances. One goroutine per instance, whatever the number of users.
func (b *Bus) heartbeatLoop() {
	defer b.wg.Done()
	tick := min(b.opts.Heartbeat, 500*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		b.watch(tick)
		if !b.sub.isUp() {
			continue
		}
		if b.pipe.failing.Load() {
			b.pipe.enqueue(op{kind: opPing}, false, 0)
			continue
		}
		b.pipe.flushFailed(b.opts.MaxQueue)
		if time.Since(last) >= b.opts.Heartbeat || b.reconcile.Load() {
			if err := b.beat(); err != nil {
				b.log.Debug("redis heartbeat failed", "err", err)
				continue
			}
			last = time.Now()
		}
	}
}

// beat refreshes liveness, reconciles presence when due, and sweeps.
func (b *Bus) beat() error {
	ctx, cancel := context.WithTimeout(b.ctx, 2*b.opts.Timeout)
	defer cancel()
	added, err := b.client.Eval(ctx, heartbeatScript, []string{b.keys.instances, b.keys.alive},
		b.opts.InstanceID, b.opts.TTL.Milliseconds()).Int()
	if err != nil {
		return err
	}
	if added == 1 {
		b.reconcile.Store(true)
	}
	if b.reconcile.Swap(false) {
		if err := cmp.Or(b.reconcilePresence(ctx), b.reconcileConns(ctx)); err != nil {
			b.reconcile.Store(true)
			return err
		}
	}
	return b.sweep(ctx)
}

// reconcilePresence queues a presence update for every pair this instance
// has registered in Redis or has locally: each update reads the local
// state when it runs, so Redis ends up matching it.
func (b *Bus) reconcilePresence(ctx context.Context) error {
	remote, err := b.client.SMembers(ctx, b.keys.presence).Result()
	if err != nil {
		return err
	}
	all := make(map[string]struct{}, len(remote))
	for _, m := range remote {
		all[m] = struct{}{}
	}
	b.h.LocalPresence(func(room, user string) bool {
		all[member(room, user)] = struct{}{}
		return true
	})
	for m := range all {
		if room, user, ok := splitMember(m); ok {
			b.pipe.enqueue(op{kind: opPresence, room: room, user: user}, false, 0)
		}
	}
	return nil
}

// sweep finds registered instances whose liveness key has expired and
// takes their users offline.
func (b *Bus) sweep(ctx context.Context) error {
	ids, err := b.client.SMembers(ctx, b.keys.instances).Result()
	if err != nil {
		return err
	}
	others := ids[:0]
	for _, id := range ids {
		if id != b.opts.InstanceID {
			others = append(others, id)
		}
	}
	if len(others) == 0 {
		return nil
	}
	pipe := b.client.Pipeline()
	exists := make([]*goredis.IntCmd, len(others))
	for i, id := range others {
		exists[i] = pipe.Exists(ctx, aliveKey(b.opts.Prefix, id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	for i, id := range others {
		if exists[i].Val() == 0 {
			if err := b.sweepInstance(ctx, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// sweepInstance runs the sweep script for id and announces the users it
// took offline.
func (b *Bus) sweepInstance(ctx context.Context, id string) error {
	res, err := b.client.Eval(ctx, sweepScript,
		[]string{b.keys.instances, aliveKey(b.opts.Prefix, id), presenceKey(b.opts.Prefix, id), connSetKey(b.opts.Prefix, id)},
		id, b.opts.Prefix, frame(kindResync, "", nil)).Slice()
	if errors.Is(err, goredis.Nil) {
		return nil // alive again, or another survivor swept it
	}
	if err != nil {
		return err
	}
	if id != b.opts.InstanceID {
		b.log.Warn("instance gone: its users are offline", "instance", id, "offline", len(res)/2)
	}
	for i := 0; i+1 < len(res); i += 2 {
		m, _ := res[i].(string)
		count, _ := res[i+1].(int64)
		room, user, ok := splitMember(m)
		if !ok {
			continue
		}
		if payload, limit := b.h.Announcement(room, user, false); payload != nil && count < int64(limit) {
			b.publishAll(room, payload)
		}
	}
	return nil
}

// withdraw takes this instance out at Close: liveness first, then the
// sweep any survivor would have run, and the announcements it yields.
func (b *Bus) withdraw(ctx context.Context) {
	if err := b.client.Del(ctx, b.keys.alive).Err(); err != nil {
		return
	}
	if err := b.sweepInstance(ctx, b.opts.InstanceID); err != nil {
		b.log.Debug("redis: withdrawing presence failed", "err", err)
		return
	}
	b.pipe.drain(b.opts.Timeout)
}
