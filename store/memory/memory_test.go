package memory

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// opener returns a storetest.Opener for stores built with opts.
func opener(opts Options) storetest.Opener {
	return func(t *testing.T) store.Store {
		return newStore(t, opts)
	}
}

func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, opener(Options{}))
}

// One shard puts every room behind one map lock: the concurrent subtests
// then contend on it.
func TestConformanceOneShard(t *testing.T) {
	storetest.Run(t, opener(Options{Shards: 1}))
}

func TestRetention(t *testing.T) {
	for _, keep := range []int{2, 3, 10, 64} {
		t.Run(fmt.Sprint(keep), func(t *testing.T) {
			storetest.RunRetention(t, opener(Options{MaxMessagesPerRoom: keep}), keep)
		})
	}
}

func TestOptions(t *testing.T) {
	cases := []struct {
		opts        Options
		wantErr     string // substring naming the field; "" for success
		maxMessages int
		shards      int
	}{
		{Options{}, "", defaultMaxMessages, defaultShards},
		{Options{MaxMessagesPerRoom: 1, Shards: 1}, "", 1, 1},
		{Options{MaxMessagesPerRoom: 5, Shards: maxShards}, "", 5, maxShards},
		{Options{MaxMessagesPerRoom: -1}, "MaxMessagesPerRoom", 0, 0},
		{Options{Shards: -2}, "Shards", 0, 0},
		{Options{Shards: 3}, "Shards", 0, 0},
		{Options{Shards: 2 * maxShards}, "Shards", 0, 0},
	}
	for _, tc := range cases {
		s, err := New(tc.opts)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), "Options."+tc.wantErr) {
				t.Errorf("New(%+v) err = %v, want one naming %s", tc.opts, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%+v): %v", tc.opts, err)
			continue
		}
		if s.maxMessages != tc.maxMessages || len(s.rooms) != tc.shards || len(s.users) != tc.shards {
			t.Errorf("New(%+v): max %d shards %d/%d; want %d, %d", tc.opts, s.maxMessages, len(s.rooms), len(s.users), tc.maxMessages, tc.shards)
		}
	}
}

// TestRetentionBounds checks what the conformance suite cannot see: the ring
// and the idempotency index never outgrow MaxMessagesPerRoom, and a retry of
// a trimmed message is stored again (the documented limitation).
func TestRetentionBounds(t *testing.T) {
	const keep = 16
	s := newStore(t, Options{MaxMessagesPerRoom: keep})
	ctx := t.Context()
	if _, err := s.CreateRoom(ctx, store.Room{ID: "r", CreatedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	r, _ := s.lookup("r")
	for i := range 5 * keep {
		if _, _, err := s.Append(ctx, store.Message{Room: "r", From: "alice", ID: fmt.Sprint(i), Body: []byte(`1`)}); err != nil {
			t.Fatal(err)
		}
		r.mu.RLock()
		n, ring, ids := r.log.n, len(r.log.ring), len(r.log.ids)
		r.mu.RUnlock()
		if n > keep || ring > keep || ids != n {
			t.Fatalf("after %d appends: %d kept, ring %d, %d ids; bound %d", i+1, n, ring, ids, keep)
		}
	}
	// Message "0" was trimmed long ago: its retry is new.
	m, dup, err := s.Append(ctx, store.Message{Room: "r", From: "alice", ID: "0", Body: []byte(`1`)})
	if err != nil || dup || m.Seq != 5*keep+1 {
		t.Fatalf("retry of a trimmed id = seq %d dup=%v %v; want a new seq %d", m.Seq, dup, err, 5*keep+1)
	}
	// Trimmed slots are cleared so their bodies can be collected.
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i := range r.log.ring {
		if r.log.ring[i].Body == nil {
			t.Fatalf("ring slot %d empty while full", i)
		}
	}
}

// TestTimestampsNeverGoBack forces the clock's view backwards by planting a
// future lastTS: TS must hold at it rather than fall behind.
func TestTimestampsNeverGoBack(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	if _, err := s.CreateRoom(ctx, store.Room{ID: "r", CreatedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	r, _ := s.lookup("r")
	future := now().Add(time.Hour)
	r.mu.Lock()
	r.log.lastTS = future
	r.mu.Unlock()
	m, _, err := s.Append(ctx, store.Message{Room: "r", From: "alice", ID: "1", Body: []byte(`1`)})
	if err != nil || !m.TS.Equal(future) {
		t.Fatalf("TS = %v, %v; want held at %v", m.TS, err, future)
	}
}

func TestInvitePurge(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	if _, err := s.CreateRoom(ctx, store.Room{ID: "r", CreatedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	for i := range minSweep {
		// Expired on arrival: the store keeps them until a sweep.
		if _, err := s.CreateInvite(ctx, store.Invite{ID: fmt.Sprint("old", i), Room: "r", CreatedBy: "alice", Expires: past}); err != nil {
			t.Fatal(err)
		}
	}
	live, err := s.CreateInvite(ctx, store.Invite{Room: "r", CreatedBy: "alice", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	s.invitesMu.Lock()
	n := len(s.invites)
	s.invitesMu.Unlock()
	if n != 1 {
		t.Fatalf("%d invites kept after a sweep, want only the live one", n)
	}
	if _, err := s.GetInvite(ctx, live.ID); err != nil {
		t.Fatalf("live invite purged: %v", err)
	}
}
