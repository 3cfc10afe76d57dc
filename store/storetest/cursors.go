package storetest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/switchboard-chat/switchboard/store"
)

func testReadCursor(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "r", false, "alice")
	if _, _, err := s.AddMember(ctx, "r", "bob", store.RoleMember); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		user     string
		set      uint64
		advanced bool
		want     uint64
	}{
		{"alice", 0, false, 0},
		{"alice", 5, true, 5},
		{"alice", 3, false, 5},
		{"alice", 5, false, 5},
		{"alice", 9, true, 9},
		{"bob", 2, true, 2},
		{"alice", 0, false, 9},
		{"bob", 1 << 40, true, 1 << 40},
	}
	for i, st := range steps {
		adv, err := s.SetReadCursor(ctx, "r", st.user, st.set)
		wantErr(t, fmt.Sprintf("step %d SetReadCursor", i), err, nil)
		got, err := s.ReadCursor(ctx, "r", st.user)
		wantErr(t, "ReadCursor", err, nil)
		if adv != st.advanced || got != st.want {
			t.Fatalf("step %d: SetReadCursor(%s, %d) advanced=%v, cursor %d; want %v, %d",
				i, st.user, st.set, adv, got, st.advanced, st.want)
		}
	}
	if c, err := s.ReadCursor(ctx, "r", "never"); err != nil || c != 0 {
		t.Fatalf("ReadCursor(never set) = %d, %v; want 0", c, err)
	}
	// A membership ending keeps the cursor.
	wantErr(t, "RemoveMember", s.RemoveMember(ctx, "r", "bob"), nil)
	if c, err := s.ReadCursor(ctx, "r", "bob"); err != nil || c != 1<<40 {
		t.Fatalf("ReadCursor after leaving = %d, %v", c, err)
	}

	_, err := s.SetReadCursor(ctx, "nope", "alice", 1)
	wantErr(t, "SetReadCursor unknown room", err, store.ErrNotFound)
	_, err = s.ReadCursor(ctx, "nope", "alice")
	wantErr(t, "ReadCursor unknown room", err, store.ErrNotFound)
	_, err = s.SetReadCursor(ctx, "r", "", 1)
	wantErr(t, "SetReadCursor empty user", err, store.ErrInvalid)
}

// testReadCursorConcurrent: racing updates leave the highest seq, and
// exactly the updates that raised the cursor report advanced.
func testReadCursorConcurrent(t *testing.T, s store.Store) {
	createRoom(t, s, "r", false, "alice")
	const goroutines, perG = 8, 50
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		highest  uint64
		advances []uint64
	)
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range perG {
				seq := rng.Uint64N(1000) + 1
				adv, err := s.SetReadCursor(t.Context(), "r", "alice", seq)
				if err != nil {
					t.Errorf("SetReadCursor: %v", err)
					return
				}
				mu.Lock()
				highest = max(highest, seq)
				if adv {
					advances = append(advances, seq)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, err := s.ReadCursor(t.Context(), "r", "alice")
	if err != nil || got != highest {
		t.Fatalf("ReadCursor = %d, %v; want the highest set, %d", got, err, highest)
	}
	// Each advance raised the cursor, so no two reported the same seq.
	seen := map[uint64]bool{}
	for _, a := range advances {
		if seen[a] {
			t.Fatalf("two updates to %d both reported advanced", a)
		}
		seen[a] = true
	}
	if !seen[highest] {
		t.Fatalf("the update to the final cursor %d did not report advanced", highest)
	}
}
