package redis

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-chat/switchboard/store"
)

// Options configures a Bus. Zero values are the documented defaults; New
// validates them once and names the field in any error.
type Options struct {
	// URL of the Redis server: redis://[user:password@]host:port/db, or
	// rediss:// for TLS. Required.
	URL string
	// InstanceID names this instance in the cluster: unique among the
	// instances sharing the server, 1-64 printable characters. Required.
	InstanceID string
	// Prefix starts every key and channel name, so several clusters (or
	// tests) can share one server. Default "switchboard:".
	Prefix string
	// Heartbeat is how often the instance refreshes its liveness key and
	// looks for dead instances. Default 10s.
	Heartbeat time.Duration
	// TTL is how long the liveness key outlives the last heartbeat: an
	// instance silent that long is dead, and a survivor takes its users
	// offline. At least twice Heartbeat. Default 30s.
	TTL time.Duration
	// Timeout bounds each Redis call (dial, read, write). Default 2s.
	Timeout time.Duration
	// MaxQueue is how many publishes and presence updates may wait for
	// Redis; past it a publish is dropped and its room resynced later.
	// Default 100,000.
	MaxQueue int
	// RateWindow is the window of the cluster-wide per-user rate limit
	// (Charge). Default 1s.
	RateWindow time.Duration
	// RateFlush is how often per-user counts are added up in Redis: the
	// most the limit may be overshot by is what the instances accept in
	// that time. Default 100ms.
	RateFlush time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.URL == "" {
		return errors.New("redis: Options.URL is required")
	}
	if n := len(o.InstanceID); n == 0 || n > 64 || strings.ContainsFunc(o.InstanceID, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("redis: Options.InstanceID must be 1-64 printable characters without spaces, got %q", o.InstanceID)
	}
	if o.Prefix == "" {
		o.Prefix = "switchboard:"
	}
	if o.Heartbeat < 0 || o.TTL < 0 || o.Timeout < 0 || o.MaxQueue < 0 || o.RateWindow < 0 || o.RateFlush < 0 {
		return errors.New("redis: Options.Heartbeat, TTL, Timeout, MaxQueue, RateWindow and RateFlush must not be negative")
	}
	if o.RateWindow == 0 {
		o.RateWindow = time.Second
	}
	if o.RateFlush == 0 {
		o.RateFlush = 100 * time.Millisecond
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 10 * time.Second
	}
	if o.TTL == 0 {
		o.TTL = max(30*time.Second, 2*o.Heartbeat)
	}
	if o.TTL < 2*o.Heartbeat {
		return fmt.Errorf("redis: Options.TTL (%v) must be at least twice Options.Heartbeat (%v)", o.TTL, o.Heartbeat)
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.MaxQueue == 0 {
		o.MaxQueue = 100_000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Bus is the Redis store.Bus. Create it with New; it is safe for concurrent
// use.
type Bus struct {
	opts   Options
	client *goredis.Client
	log    *slog.Logger
	h      store.BusHandler
	keys   keys

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	sub   subscriber
	pipe  pipeline
	rate  rateLimiter
	conns connCounts

	// reconcile asks the heartbeat goroutine to bring this instance's
	// presence in Redis back in line with LocalPresence.
	reconcile atomic.Bool
}

// New checks opts and returns a Bus that has not connected yet.
func New(opts Options) (*Bus, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	ropts, err := goredis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: Options.URL: %w", err)
	}
	ropts.DialTimeout = opts.Timeout
	ropts.ReadTimeout = opts.Timeout
	ropts.WriteTimeout = opts.Timeout
	ropts.PoolTimeout = opts.Timeout
	// Retries would hold a worker for several timeouts during an outage;
	// the callers retry in their own time instead.
	ropts.MaxRetries = -1
	ropts.DisableIdentity = true
	ropts.Protocol = 2
	b := &Bus{opts: opts, client: goredis.NewClient(ropts), log: opts.Logger, keys: newKeys(opts.Prefix, opts.InstanceID)}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.sub.init()
	b.pipe.init()
	b.rate.seed = maphash.MakeSeed()
	return b, nil
}

// Start implements store.Bus.
func (b *Bus) Start(h store.BusHandler) error {
	if b.h != nil {
		return errors.New("redis: Bus.Start called twice")
	}
	b.h = h
	b.wg.Add(4)
	go b.rateLoop()
	go b.subscribeLoop()
	go b.pipelineLoop()
	go b.heartbeatLoop()
	return nil
}

// Err implements store.Bus.
func (b *Bus) Err() error {
	if b.closed.Load() {
		return fmt.Errorf("redis: bus closed: %w", store.ErrUnavailable)
	}
	if !b.sub.isUp() {
		return fmt.Errorf("redis: not connected: %w", store.ErrUnavailable)
	}
	if b.pipe.failing.Load() {
		return fmt.Errorf("redis: relaying failed: %w", store.ErrUnavailable)
	}
	return nil
}

// Health implements store.Bus.
func (b *Bus) Health(ctx context.Context) error {
	if err := b.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	if err := b.client.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Close implements store.Bus: it waits (up to Timeout) for queued
// publishes and presence updates, takes this instance's presence offline,
// and disconnects.
func (b *Bus) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	if b.h != nil {
		b.pipe.drain(b.opts.Timeout)
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.Timeout)
		b.withdraw(ctx)
		cancel()
	}
	b.cancel()
	b.sub.shutdown()
	b.pipe.shutdown()
	b.wg.Wait()
	return b.client.Close()
}

// unavailable wraps a Redis failure for the room layer.
func unavailable(err error) error {
	return fmt.Errorf("redis: %v: %w", err, store.ErrUnavailable)
}

// keys names everything the bus keeps in Redis.
//
//	<prefix>room:<room>               channel of the room
//	<prefix>online:<room>             hash user -> instances the user is connected to room on
//	<prefix>inst:<id>:presence        set of "<room>\x00<user>" this instance registered
//	<prefix>inst:<id>:alive           liveness, expires TTL after the last heartbeat
//	<prefix>instances                 set of the instance ids that registered
type keys struct {
	prefix, channelPrefix, instances, alive, presence string
}

func newKeys(prefix, id string) keys {
	return keys{prefix: prefix, channelPrefix: prefix + "room:", instances: prefix + "instances",
		alive: aliveKey(prefix, id), presence: presenceKey(prefix, id)}
}

func aliveKey(prefix, id string) string    { return prefix + "inst:" + id + ":alive" }
func presenceKey(prefix, id string) string { return prefix + "inst:" + id + ":presence" }
func (k keys) channel(room string) string  { return k.channelPrefix + room }
func (k keys) online(room string) string   { return k.prefix + "online:" + room }

// Wire format of a channel payload: kind, origin length, origin, body.
const (
	kindApp    = 'a' // body for the handler, from origin; origin skips it
	kindAll    = 'A' // body for the handler of every instance
	kindResync = 'r' // no body: resync the room
)

func frame(kind byte, origin string, body []byte) string {
	var sb strings.Builder
	sb.Grow(2 + len(origin) + len(body))
	sb.WriteByte(kind)
	sb.WriteByte(byte(len(origin)))
	sb.WriteString(origin)
	sb.Write(body)
	return sb.String()
}

// parseFrame splits a payload; ok is false for one this bus did not write.
func parseFrame(p string) (kind byte, origin, body string, ok bool) {
	if len(p) < 2 || len(p) < 2+int(p[1]) {
		return 0, "", "", false
	}
	n := 2 + int(p[1])
	return p[0], p[2:n], p[n:], true
}
