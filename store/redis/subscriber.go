package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-chat/switchboard/store"
)

// subscriber is the instance's one pub/sub connection and the set of room
// channels it wants.
//
// A connection goes through sessions: each new one subscribes every wanted
// room at once, and the bus is up only once Redis has confirmed every
// SUBSCRIBE and UNSUBSCRIBE sent on it (pending counts the replies still
// due, per channel), so that a subscription is never reported confirmed on
// the strength of a reply to an earlier command. Commands are written under
// mu, so a SUBSCRIBE and an UNSUBSCRIBE of one room reach Redis in the order
// the want count changed.
//
// Lock order: mu, then go-redis's own PubSub lock (inside its methods). The
// receiving goroutine takes mu only between reads.
type subscriber struct {
	mu        sync.Mutex
	ps        *goredis.PubSub // this session's connection; nil while down
	up        bool            // every command of this session answered
	closed    bool
	want      map[string]int // references per room
	pending   map[string]int // replies still due per room, this session
	total     int            // sum of pending
	confirmed map[string]bool
	waiters   map[string][]chan struct{}

	lastHeard atomic.Int64 // unix nanos of the last reply on ps
}

func (s *subscriber) init() {
	s.want = map[string]int{}
	s.pending = map[string]int{}
	s.confirmed = map[string]bool{}
	s.waiters = map[string][]chan struct{}{}
}

func (s *subscriber) isUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up
}

var errNotConnected = fmt.Errorf("redis: not connected: %w", store.ErrUnavailable)

// Subscribe implements store.Bus.
func (b *Bus) Subscribe(ctx context.Context, room string) error {
	s := &b.sub
	s.mu.Lock()
	s.want[room]++
	if s.want[room] == 1 && s.ps != nil {
		if err := b.sendLocked("subscribe", []string{room}); err != nil {
			s.mu.Unlock()
			return unavailable(err)
		}
	}
	for {
		switch {
		case s.confirmed[room]:
			s.mu.Unlock()
			return nil
		case s.ps == nil || s.closed:
			s.mu.Unlock()
			return errNotConnected
		}
		ch := make(chan struct{})
		s.waiters[room] = append(s.waiters[room], ch)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("redis: subscribing to room %s: %w", room, ctx.Err())
		}
		s.mu.Lock()
	}
}

// Unsubscribe implements store.Bus.
func (b *Bus) Unsubscribe(room string) {
	s := &b.sub
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.want[room] > 1 {
		s.want[room]--
		return
	}
	delete(s.want, room)
	delete(s.confirmed, room)
	if s.ps != nil {
		b.sendLocked("unsubscribe", []string{room})
	}
}

// sendLocked writes SUBSCRIBE or UNSUBSCRIBE for rooms on this session's
// connection and counts the replies due. A failed write ends the session.
func (b *Bus) sendLocked(cmd string, rooms []string) error {
	s := &b.sub
	const batch = 1000
	for len(rooms) > 0 {
		n := min(batch, len(rooms))
		chans := make([]string, n)
		for i, r := range rooms[:n] {
			chans[i] = b.keys.channel(r)
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.Timeout)
		var err error
		if cmd == "subscribe" {
			err = s.ps.Subscribe(ctx, chans...)
		} else {
			err = s.ps.Unsubscribe(ctx, chans...)
		}
		cancel()
		if err != nil {
			s.ps.Close() // the receiving goroutine sees the failure and reconnects
			return err
		}
		for _, r := range rooms[:n] {
			s.pending[r]++
			s.total++
		}
		rooms = rooms[n:]
	}
	return nil
}

// subscribeLoop runs sessions until Close, with capped exponential
// back-off between failures.
func (b *Bus) subscribeLoop() {
	defer b.wg.Done()
	const minBackoff, maxBackoff = 50 * time.Millisecond, time.Second
	backoff := minBackoff
	for b.ctx.Err() == nil {
		start := time.Now()
		err := b.session()
		wasUp := b.sub.down()
		if b.ctx.Err() != nil {
			return
		}
		if wasUp {
			b.log.Warn("redis subscription lost; reconnecting", "err", err)
		} else {
			b.log.Debug("redis subscription failed", "err", err)
		}
		if time.Since(start) > 10*time.Second {
			backoff = minBackoff
		}
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

var errClosed = errors.New("redis: bus closed")

// session connects, subscribes every wanted room, and receives until the
// connection fails.
func (b *Bus) session() error {
	s := &b.sub
	ps := b.client.Subscribe(b.ctx)
	defer ps.Close()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	s.ps = ps
	s.lastHeard.Store(time.Now().UnixNano())
	rooms := make([]string, 0, len(s.want))
	for r := range s.want {
		rooms = append(rooms, r)
	}
	err := b.sendLocked("subscribe", rooms)
	if err == nil && len(rooms) == 0 {
		// Nothing to subscribe: a ping connects, and its pong says up.
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.Timeout)
		err = ps.Ping(ctx)
		cancel()
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for {
		msg, err := ps.Receive(b.ctx)
		if err != nil {
			return err
		}
		s.lastHeard.Store(time.Now().UnixNano())
		switch m := msg.(type) {
		case *goredis.Subscription:
			room, _ := strings.CutPrefix(m.Channel, b.keys.channelPrefix)
			if s.confirm(m.Kind, room) {
				b.becameUp()
			}
		case *goredis.Pong:
			if s.pong() {
				b.becameUp()
			}
		case *goredis.Message:
			b.deliver(m.Channel, m.Payload)
		}
	}
}

// confirm counts one reply to a SUBSCRIBE or UNSUBSCRIBE of room and
// reports whether the bus has just come up.
func (s *subscriber) confirm(kind, room string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[room] > 0 {
		s.pending[room]--
		s.total--
		if s.pending[room] == 0 {
			delete(s.pending, room)
		}
	}
	if s.pending[room] == 0 && kind == "subscribe" && s.want[room] > 0 {
		s.confirmed[room] = true
		for _, ch := range s.waiters[room] {
			close(ch)
		}
		delete(s.waiters, room)
	}
	return s.upLocked()
}

func (s *subscriber) pong() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upLocked()
}

// upLocked marks the session up once every command is answered, and
// reports whether it just did.
func (s *subscriber) upLocked() bool {
	if s.up || s.ps == nil || s.total > 0 {
		return false
	}
	s.up = true
	return true
}

// down ends the session: nothing is confirmed any more, and waiters learn
// that the bus is disconnected. It reports whether the session was up.
func (s *subscriber) down() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.up
	s.up, s.ps, s.total = false, nil, 0
	clear(s.pending)
	clear(s.confirmed)
	for _, list := range s.waiters {
		for _, ch := range list {
			close(ch)
		}
	}
	clear(s.waiters)
	return was
}

func (s *subscriber) shutdown() {
	s.mu.Lock()
	s.closed = true
	ps := s.ps
	s.mu.Unlock()
	if ps != nil {
		ps.Close()
	}
}

// becameUp runs when a session has every wanted room confirmed: anything
// published while the bus was down may have been missed, and presence
// registered then may be missing from Redis.
func (b *Bus) becameUp() {
	b.log.Info("redis subscription up", "instance", b.opts.InstanceID)
	b.h.Resync("")
	b.reconcile.Store(true)
}

// watch pings the session's connection and ends it when Redis has not
// answered anything for too long (a silent network failure does not fail
// the blocked read).
func (b *Bus) watch(every time.Duration) {
	s := &b.sub
	s.mu.Lock()
	ps := s.ps
	s.mu.Unlock()
	if ps == nil {
		return
	}
	if time.Since(time.Unix(0, s.lastHeard.Load())) > 3*every+b.opts.Timeout {
		b.log.Warn("redis subscription silent; reconnecting")
		ps.Close()
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Timeout)
	defer cancel()
	if err := ps.Ping(ctx); err != nil {
		ps.Close()
	}
}

// deliver hands one channel payload to the handler.
func (b *Bus) deliver(channel, payload string) {
	room, ok := strings.CutPrefix(channel, b.keys.channelPrefix)
	if !ok {
		return
	}
	kind, origin, body, ok := parseFrame(payload)
	if !ok {
		b.log.Warn("redis: dropping a payload this bus did not write", "channel", channel)
		return
	}
	switch kind {
	case kindApp:
		if origin != b.opts.InstanceID {
			b.h.Deliver(room, []byte(body))
		}
	case kindAll:
		b.h.Deliver(room, []byte(body))
	case kindResync:
		b.h.Resync(room)
	}
}
