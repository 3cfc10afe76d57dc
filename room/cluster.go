package room

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/protocol"
	"github.com/switchboard-chat/switchboard/store"
)

// cluster is the Service's side of a store.Bus: it relays what this
// instance delivers locally to the other instances, hands what they relay
// to local fan-out, and refills from the store whatever the bus missed.
// It is the store.BusHandler the Service starts its bus with.
//
// Sequenced messages go through liveRoom.publish like local ones, so the
// parked/next order applies to them; an own message relayed back, or one
// both relayed and refilled, is dropped there (seq < next). A gap (a later
// seq parked, next missing) that persists for GapTimeout, a resync notice
// from the bus, or a bus reconnect makes the refiller read the store from
// next on.
//
// Goroutines: one ticker (gap checks) and one refiller per Service, which
// runs up to refillParallel refills at once while it has rooms to refill;
// none per room or connection. Lock order: cluster.mu, then a liveRoom's mu.
type cluster struct {
	s   *Service
	bus store.Bus

	mu      sync.Mutex
	gaps    map[*liveRoom]struct{} // rooms that opened a gap
	refills map[string]struct{}    // rooms to refill; "" means all
	retry   map[string]struct{}    // refills that failed, tried again at retryAt
	retryAt time.Time
	wake    chan struct{}

	stop chan struct{}
	wg   sync.WaitGroup

	stats clusterCounters
}

// clusterCounters are the cluster side's statistics (ClusterStats).
type clusterCounters struct {
	relayed, received, resyncs, reconnects  atomic.Uint64
	gaps, refills, refillFailures, refilled atomic.Uint64
}

// Envelope of a room payload on the bus: one kind byte, then
//
//	'm': seq (8 bytes, big endian), message frame
//	'e': user to skip (length byte, name), frame for every other member
//	'k': kicked user (length byte, name), kicked frame; the user's
//	     connections leave the room
const (
	envMessage = 'm'
	envEvent   = 'e'
	envKick    = 'k'
)

func messageEnvelope(seq uint64, frame []byte) []byte {
	b := make([]byte, 9, 9+len(frame))
	b[0] = envMessage
	binary.BigEndian.PutUint64(b[1:], seq)
	return append(b, frame...)
}

func userEnvelope(kind byte, user string, frame []byte) []byte {
	b := make([]byte, 0, 2+len(user)+len(frame))
	b = append(b, kind, byte(len(user)))
	b = append(b, user...)
	return append(b, frame...)
}

func newCluster(s *Service, bus store.Bus) *cluster {
	return &cluster{s: s, bus: bus, gaps: map[*liveRoom]struct{}{}, refills: map[string]struct{}{},
		retry: map[string]struct{}{}, wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

func (c *cluster) start() error {
	c.wg.Add(2)
	go c.tick()
	go c.refiller()
	if err := c.bus.Start(c); err != nil {
		c.close()
		return err
	}
	return nil
}

func (c *cluster) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.wg.Wait()
}

// relayMessage sends a stored message to the other instances.
func (c *cluster) relayMessage(room string, seq uint64, frame []byte) {
	c.stats.relayed.Add(1)
	c.bus.Publish(room, messageEnvelope(seq, frame))
}

// relayEvent sends an unsequenced frame to the other instances' members,
// skipping skipUser's connections ("" skips none).
func (c *cluster) relayEvent(room, skipUser string, frame []byte) {
	c.stats.relayed.Add(1)
	c.bus.Publish(room, userEnvelope(envEvent, skipUser, frame))
}

// Deliver implements store.BusHandler.
func (c *cluster) Deliver(room string, payload []byte) {
	c.stats.received.Add(1)
	lr := c.s.rooms.get(room)
	if lr == nil || len(payload) == 0 {
		return
	}
	switch payload[0] {
	case envMessage:
		if len(payload) < 9 {
			return
		}
		seq := binary.BigEndian.Uint64(payload[1:9])
		if _, gap := lr.publish(c.s.e, seq, engine.NewFrame(ws.OpText, payload[9:])); gap {
			c.noteGap(lr)
		}
	case envEvent, envKick:
		if len(payload) < 2 || len(payload) < 2+int(payload[1]) {
			return
		}
		user, frame := string(payload[2:2+int(payload[1])]), payload[2+int(payload[1]):]
		if payload[0] == envEvent {
			lr.broadcast(c.s.e, frame, user)
			return
		}
		lr.broadcast(c.s.e, frame, "")
		c.s.evict(lr, user)
	}
}

// Resync implements store.BusHandler.
func (c *cluster) Resync(room string) {
	if room == "" {
		c.stats.reconnects.Add(1)
	} else {
		c.stats.resyncs.Add(1)
	}
	c.mu.Lock()
	c.refills[room] = struct{}{}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Present implements store.BusHandler.
func (c *cluster) Present(room, user string) bool {
	lr := c.s.rooms.get(room)
	if lr == nil {
		return false
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return lr.users[user] > 0
}

// LocalPresence implements store.BusHandler.
func (c *cluster) LocalPresence(yield func(room, user string) bool) {
	stop := false
	c.s.rooms.each(func(lr *liveRoom) {
		if stop {
			return
		}
		lr.mu.Lock()
		users := make([]string, 0, len(lr.users))
		for u := range lr.users {
			users = append(users, u)
		}
		lr.mu.Unlock()
		for _, u := range users {
			if !yield(lr.id, u) {
				stop = true
				return
			}
		}
	})
}

// Announcement implements store.BusHandler.
func (c *cluster) Announcement(room, user string, online bool) ([]byte, int) {
	status := "offline"
	if online {
		status = "online"
	}
	return userEnvelope(envEvent, user, presenceFrame(room, user, status)), c.s.cfg.LargeRoom
}

// noteGap records a room whose delivery is waiting for a missing seq.
func (c *cluster) noteGap(lr *liveRoom) {
	c.mu.Lock()
	c.gaps[lr] = struct{}{}
	c.mu.Unlock()
}

// tick checks gaps a few times per GapTimeout and retries failed refills.
func (c *cluster) tick() {
	defer c.wg.Done()
	t := time.NewTicker(max(c.s.cfg.GapTimeout/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.checkGaps(now)
		}
	}
}

func (c *cluster) checkGaps(now time.Time) {
	c.mu.Lock()
	due := len(c.retry) > 0 && !now.Before(c.retryAt)
	if due {
		for r := range c.retry {
			c.refills[r] = struct{}{}
		}
		clear(c.retry)
	}
	for lr := range c.gaps {
		lr.mu.Lock()
		switch {
		case lr.gapSince.IsZero():
			delete(c.gaps, lr)
		case now.Sub(lr.gapSince) >= c.s.cfg.GapTimeout:
			lr.gapSince = now // one refill per GapTimeout while the gap lasts
			c.refills[lr.id] = struct{}{}
			c.stats.gaps.Add(1)
			due = true
		}
		lr.mu.Unlock()
	}
	c.mu.Unlock()
	if due {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// refiller reads the store for the rooms queued for a refill (a few at a
// time, refillAll), so that the bus's receiving goroutine never waits on
// the store.
func (c *cluster) refiller() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		rooms := make([]string, 0, len(c.refills))
		_, all := c.refills[""]
		for r := range c.refills {
			rooms = append(rooms, r)
		}
		clear(c.refills)
		c.mu.Unlock()
		if all {
			rooms = rooms[:0]
			c.s.rooms.each(func(lr *liveRoom) { rooms = append(rooms, lr.id) })
		}
		failed, firstErr := c.refillAll(rooms)
		if len(failed) > 0 {
			c.s.log.Warn("refilling rooms from the store failed; retrying", "rooms", len(failed), "err", firstErr)
			c.mu.Lock()
			for _, r := range failed {
				c.retry[r] = struct{}{}
			}
			c.retryAt = time.Now().Add(refillRetry)
			c.mu.Unlock()
		}
	}
}

// refillAll refills rooms, refillParallel at a time (after a bus
// reconnect every live room is due at once, and each refill is a store
// round trip or more), and returns the rooms that failed and the first
// error.
func (c *cluster) refillAll(rooms []string) (failed []string, firstErr error) {
	var (
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(refillParallel, len(rooms)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(rooms) {
					return
				}
				err := c.refill(rooms[i])
				c.stats.refills.Add(1)
				if err == nil {
					continue
				}
				c.stats.refillFailures.Add(1)
				mu.Lock()
				failed, firstErr = append(failed, rooms[i]), cmp.Or(firstErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed, firstErr
}

// refillParallel is how many rooms the refiller reads from the store at
// once: enough to hide the round trips, few enough to leave the pool to
// publishes.
const refillParallel = 8

// refillRetry is the pause before a failed refill is tried again.
const refillRetry = 500 * time.Millisecond

// refillPage is how many messages one store read of a refill fetches.
const refillPage = 500

// refill hands every stored message after the room's next-1 to fan-out,
// in seq order; what live delivery already handed over is dropped there.
func (c *cluster) refill(room string) error {
	lr := c.s.rooms.get(room)
	if lr == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.StoreTimeout)
	defer cancel()
	select {
	case <-lr.ready:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return nil
	}
	if lr.err != nil {
		return nil
	}
	after := lr.resume()
	for {
		msgs, more, err := c.s.st.Since(ctx, room, after, refillPage)
		var trimmed *store.TrimmedError
		if errors.As(err, &trimmed) {
			// Retention removed what this instance never delivered:
			// nothing gapless is possible; skip to what is stored.
			c.s.log.Error("messages trimmed before this instance delivered them; members miss them",
				"room", room, "after", after, "oldest", trimmed.Oldest)
			lr.skipTo(c.s.e, trimmed.Oldest)
			after = trimmed.Oldest - 1
			continue
		}
		if err != nil {
			return err
		}
		for i := range msgs {
			frame := protocol.AppendMessageFrame(nil, chatMessage(&msgs[i]))
			taken, gap := lr.publish(c.s.e, msgs[i].Seq, engine.NewFrame(ws.OpText, frame))
			if taken {
				c.stats.refilled.Add(1)
			}
			if gap {
				c.noteGap(lr)
			}
		}
		if !more || len(msgs) == 0 {
			return nil
		}
		after = msgs[len(msgs)-1].Seq
	}
}
