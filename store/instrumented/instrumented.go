// Package instrumented wraps a store.Store and records every call's latency
// and failures as Prometheus metrics:
//
//	switchboard_store_duration_seconds{op}     histogram, every call
//	switchboard_store_errors_total{op, kind}   counter, failed calls
//
// op is the method in snake case ("append", "since", "health"); kind is
// not_found, exists, invalid, unavailable, timeout, canceled, trimmed or
// other. The wrapper adds a clock read and one histogram observation per
// call; it changes no behaviour, which the storetest conformance suite
// checks by running against a wrapped memory store.
//
// Concurrency: as safe for concurrent use as the wrapped store.
package instrumented

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-chat/switchboard/store"
)

// Store is a store.Store that measures the one it wraps. Methods a future
// store.Store gains pass through the embedded interface unmeasured until
// they are added here (TestEveryMethodMeasured fails until then).
type Store struct {
	store.Store
	obs  [numOps]prometheus.Observer
	errs *prometheus.CounterVec
}

type op int

const (
	opCreateRoom op = iota
	opGetRoom
	opListRooms
	opAddMember
	opSetRole
	opRemoveMember
	opMember
	opMembers
	opMemberCount
	opAppend
	opAppendBatch
	opHistory
	opSince
	opLastSeq
	opSetReadCursor
	opReadCursor
	opCreateInvite
	opGetInvite
	opRevokeInvite
	opHealth
	numOps
)

var opNames = [numOps]string{"create_room", "get_room", "list_rooms", "add_member", "set_role", "remove_member",
	"member", "members", "member_count", "append", "append_batch", "history", "since", "last_seq",
	"set_read_cursor", "read_cursor", "create_invite", "get_invite", "revoke_invite", "health"}

// Buckets are the latency histogram's upper bounds in seconds: from an
// in-memory call (µs) to a backend about to time out (5 s by default).
var Buckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// New wraps next and registers its metrics with reg.
func New(next store.Store, reg prometheus.Registerer) (*Store, error) {
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchboard_store_duration_seconds",
		Help:    "Latency of store calls, by method.",
		Buckets: Buckets,
	}, []string{"op"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_store_errors_total",
		Help: "Store calls that returned an error, by method and kind (not_found, exists, invalid, unavailable, timeout, canceled, trimmed, other).",
	}, []string{"op", "kind"})
	for _, c := range []prometheus.Collector{dur, errs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	s := &Store{Store: next, errs: errs}
	for i, name := range opNames {
		s.obs[i] = dur.WithLabelValues(name) // every op shows, at zero, from the first scrape
	}
	return s, nil
}

// Unwrap returns the wrapped store, for callers that look for a backend's
// optional interfaces.
func (s *Store) Unwrap() store.Store { return s.Store }

// done records one call that started at start; err points at its result.
func (s *Store) done(o op, start time.Time, err *error) {
	s.obs[o].Observe(time.Since(start).Seconds())
	if *err != nil {
		s.errs.WithLabelValues(opNames[o], Kind(*err)).Inc()
	}
}

// Kind classifies a store error for the errors metric.
func Kind(err error) string {
	var trimmed *store.TrimmedError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrExists):
		return "exists"
	case errors.Is(err, store.ErrInvalid):
		return "invalid"
	case errors.Is(err, store.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &trimmed):
		return "trimmed"
	}
	return "other"
}

func (s *Store) CreateRoom(ctx context.Context, r store.Room) (_ store.Room, err error) {
	defer s.done(opCreateRoom, time.Now(), &err)
	return s.Store.CreateRoom(ctx, r)
}

func (s *Store) GetRoom(ctx context.Context, id string) (_ store.Room, err error) {
	defer s.done(opGetRoom, time.Now(), &err)
	return s.Store.GetRoom(ctx, id)
}

func (s *Store) ListRooms(ctx context.Context, user, after string, limit int) (_ []store.Room, _ bool, err error) {
	defer s.done(opListRooms, time.Now(), &err)
	return s.Store.ListRooms(ctx, user, after, limit)
}

func (s *Store) AddMember(ctx context.Context, room, user string, role store.Role) (_ store.Member, _ bool, err error) {
	defer s.done(opAddMember, time.Now(), &err)
	return s.Store.AddMember(ctx, room, user, role)
}

func (s *Store) SetRole(ctx context.Context, room, user string, role store.Role) (_ store.Member, err error) {
	defer s.done(opSetRole, time.Now(), &err)
	return s.Store.SetRole(ctx, room, user, role)
}

func (s *Store) RemoveMember(ctx context.Context, room, user string) (err error) {
	defer s.done(opRemoveMember, time.Now(), &err)
	return s.Store.RemoveMember(ctx, room, user)
}

func (s *Store) Member(ctx context.Context, room, user string) (_ store.Member, err error) {
	defer s.done(opMember, time.Now(), &err)
	return s.Store.Member(ctx, room, user)
}

func (s *Store) Members(ctx context.Context, room, after string, limit int) (_ []store.Member, _ bool, err error) {
	defer s.done(opMembers, time.Now(), &err)
	return s.Store.Members(ctx, room, after, limit)
}

func (s *Store) MemberCount(ctx context.Context, room string) (_ int, err error) {
	defer s.done(opMemberCount, time.Now(), &err)
	return s.Store.MemberCount(ctx, room)
}

func (s *Store) Append(ctx context.Context, m store.Message) (_ store.Message, _ bool, err error) {
	defer s.done(opAppend, time.Now(), &err)
	return s.Store.Append(ctx, m)
}

func (s *Store) AppendBatch(ctx context.Context, ms []store.Message) (_ []store.AppendResult, err error) {
	defer s.done(opAppendBatch, time.Now(), &err)
	return s.Store.AppendBatch(ctx, ms)
}

// AppendAsync passes the call to the wrapped store's AppendAsync, timing it
// from hand-over to done, or runs Append and calls done when the wrapped
// store has no AppendAsync. It is measured as op "append": the same
// operation, whichever way the caller waits for it. See
// store.AsyncAppender.
func (s *Store) AppendAsync(ctx context.Context, m store.Message, done func(store.AppendResult)) {
	start := time.Now()
	inner, ok := s.Store.(store.AsyncAppender)
	if !ok {
		var res store.AppendResult
		defer func() { done(res) }()
		defer s.done(opAppend, start, &res.Err)
		res.Message, res.Duplicate, res.Err = s.Store.Append(ctx, m)
		return
	}
	inner.AppendAsync(ctx, m, func(res store.AppendResult) {
		s.done(opAppend, start, &res.Err)
		done(res)
	})
}

var _ store.AsyncAppender = (*Store)(nil)

func (s *Store) History(ctx context.Context, room string, before uint64, limit int) (_ []store.Message, _ bool, err error) {
	defer s.done(opHistory, time.Now(), &err)
	return s.Store.History(ctx, room, before, limit)
}

func (s *Store) Since(ctx context.Context, room string, after uint64, limit int) (_ []store.Message, _ bool, err error) {
	defer s.done(opSince, time.Now(), &err)
	return s.Store.Since(ctx, room, after, limit)
}

func (s *Store) LastSeq(ctx context.Context, room string) (_ uint64, err error) {
	defer s.done(opLastSeq, time.Now(), &err)
	return s.Store.LastSeq(ctx, room)
}

func (s *Store) SetReadCursor(ctx context.Context, room, user string, seq uint64) (_ bool, err error) {
	defer s.done(opSetReadCursor, time.Now(), &err)
	return s.Store.SetReadCursor(ctx, room, user, seq)
}

func (s *Store) ReadCursor(ctx context.Context, room, user string) (_ uint64, err error) {
	defer s.done(opReadCursor, time.Now(), &err)
	return s.Store.ReadCursor(ctx, room, user)
}

func (s *Store) CreateInvite(ctx context.Context, inv store.Invite) (_ store.Invite, err error) {
	defer s.done(opCreateInvite, time.Now(), &err)
	return s.Store.CreateInvite(ctx, inv)
}

func (s *Store) GetInvite(ctx context.Context, id string) (_ store.Invite, err error) {
	defer s.done(opGetInvite, time.Now(), &err)
	return s.Store.GetInvite(ctx, id)
}

func (s *Store) RevokeInvite(ctx context.Context, id string) (err error) {
	defer s.done(opRevokeInvite, time.Now(), &err)
	return s.Store.RevokeInvite(ctx, id)
}

func (s *Store) Health(ctx context.Context) (err error) {
	defer s.done(opHealth, time.Now(), &err)
	return s.Store.Health(ctx)
}
