package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-chat/switchboard/store"
)

// Options configures a Store. The zero value of every field is the default
// written beside it; New validates the struct once and names the field in
// any error.
type Options struct {
	// MaxMessagesPerRoom is how many of its newest messages each room
	// keeps (and how far back duplicate ids are recognised). Default
	// 10,000; must not be negative.
	MaxMessagesPerRoom int
	// Shards is the number of shards of the room map and of the member
	// index, a power of two up to 65,536. Default 64.
	Shards int
}

const (
	defaultMaxMessages = 10_000
	defaultShards      = 64
	maxShards          = 1 << 16
)

func (o *Options) validate() error {
	if o.MaxMessagesPerRoom < 0 {
		return fmt.Errorf("memory: Options.MaxMessagesPerRoom %d is negative", o.MaxMessagesPerRoom)
	}
	if o.MaxMessagesPerRoom == 0 {
		o.MaxMessagesPerRoom = defaultMaxMessages
	}
	if o.Shards < 0 || o.Shards > maxShards || bits.OnesCount(uint(o.Shards)) > 1 {
		return fmt.Errorf("memory: Options.Shards %d is not a power of two in [1, %d]", o.Shards, maxShards)
	}
	if o.Shards == 0 {
		o.Shards = defaultShards
	}
	return nil
}

// Store is the in-memory store.Store. Safe for concurrent use.
//
// Lock order: room.mu, then userShard.mu or roomShard.mu or publicMu.
// roomShard.mu, userShard.mu, publicMu and invitesMu are leaves: nothing else
// is locked while one is held. No goroutine holds two room locks at once.
// (Only CreateRoom takes a roomShard.mu under a room.mu, on a room that no
// other goroutine can see yet.)
type Store struct {
	maxMessages int
	seed        maphash.Seed
	closed      atomic.Bool

	rooms []roomShard // by hash of room id
	users []userShard // by hash of user

	publicMu  sync.RWMutex
	publicIDs []string // ids of public rooms, sorted

	invitesMu sync.Mutex
	invites   map[string]store.Invite
	sweepAt   int // purge expired invites when len(invites) reaches this
}

// roomShard is one shard of the room map.
type roomShard struct {
	mu    sync.RWMutex
	rooms map[string]*room
}

// userShard is one shard of the member index: user -> ids of the rooms they
// are a member of. It mirrors room.members and is changed under the room's
// lock so the two never disagree for long.
type userShard struct {
	mu    sync.Mutex
	rooms map[string]map[string]struct{}
}

var _ store.Store = (*Store)(nil)

// New returns an empty Store.
func New(opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Store{
		maxMessages: opts.MaxMessagesPerRoom,
		seed:        maphash.MakeSeed(),
		rooms:       make([]roomShard, opts.Shards),
		users:       make([]userShard, opts.Shards),
		invites:     make(map[string]store.Invite),
		sweepAt:     minSweep,
	}
	for i := range s.rooms {
		s.rooms[i].rooms = make(map[string]*room)
		s.users[i].rooms = make(map[string]map[string]struct{})
	}
	return s, nil
}

var errClosed = fmt.Errorf("memory: store closed: %w", store.ErrUnavailable)

// begin is the common prologue: a closed store or a done ctx fails the call
// before it changes anything.
func (s *Store) begin(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	return ctx.Err()
}

// Health reports ErrUnavailable once the store is closed.
func (s *Store) Health(ctx context.Context) error { return s.begin(ctx) }

// Close marks the store closed; later calls fail with store.ErrUnavailable.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

func (s *Store) roomShard(id string) *roomShard {
	return &s.rooms[maphash.String(s.seed, id)&uint64(len(s.rooms)-1)]
}

func (s *Store) userShard(user string) *userShard {
	return &s.users[maphash.String(s.seed, user)&uint64(len(s.users)-1)]
}

// lookup finds a room without locking it.
func (s *Store) lookup(id string) (*room, error) {
	sh := s.roomShard(id)
	sh.mu.RLock()
	r := sh.rooms[id]
	sh.mu.RUnlock()
	if r == nil {
		return nil, notFound("room", id)
	}
	return r, nil
}

func notFound(what, id string) error {
	return fmt.Errorf("memory: %s %q: %w", what, id, store.ErrNotFound)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("memory: "+format+": %w", append(args, store.ErrInvalid)...)
}

func checkLimit(limit int) error {
	if limit < 1 {
		return invalid("limit %d is below 1", limit)
	}
	return nil
}

// now is the store's clock: UTC at microsecond precision, the resolution
// every backend can keep (store package rule).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
