package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/switchboard-chat/switchboard/store"
)

// testConcurrentAppend: many goroutines append to many rooms at once, some
// through AppendBatch. Each room's seqs must come out 1..n with no gap and
// no duplicate, every message exactly once, and each goroutine must see its
// own seqs in a room rise in the order it appended.
func testConcurrentAppend(t *testing.T, s store.Store) {
	const (
		rooms      = 8
		goroutines = 16
		perG       = 60
	)
	for r := range rooms {
		createRoom(t, s, fmt.Sprintf("c%d", r), false, "owner")
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			from := fmt.Sprintf("user%d", g)
			lastSeen := map[string]uint64{}
			check := func(m store.Message) error {
				if m.Seq <= lastSeen[m.Room] {
					return fmt.Errorf("%s: seq %d in %s after %d", from, m.Seq, m.Room, lastSeen[m.Room])
				}
				lastSeen[m.Room] = m.Seq
				return nil
			}
			for i := 0; i < perG; {
				if i%10 == 0 { // a batch of 4 spread over rooms
					var batch []store.Message
					for k := range 4 {
						batch = append(batch, msg(fmt.Sprintf("c%d", (g+i+k)%rooms), from, fmt.Sprint(i+k)))
					}
					res, err := s.AppendBatch(t.Context(), batch)
					if err != nil {
						errs <- err
						return
					}
					for _, r := range res {
						if r.Err != nil || r.Duplicate {
							errs <- fmt.Errorf("%s: batch item %+v", from, r)
							return
						}
						if err := check(r.Message); err != nil {
							errs <- err
							return
						}
					}
					i += 4
					continue
				}
				m, dup, err := s.Append(t.Context(), msg(fmt.Sprintf("c%d", (g+i)%rooms), from, fmt.Sprint(i)))
				if err == nil && dup {
					err = fmt.Errorf("%s/%d: unexpected duplicate", from, i)
				}
				if err == nil {
					err = check(m)
				}
				if err != nil {
					errs <- err
					return
				}
				i++
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	total := 0
	for r := range rooms {
		room := fmt.Sprintf("c%d", r)
		last, err := s.LastSeq(t.Context(), room)
		wantErr(t, "LastSeq", err, nil)
		msgs, more, err := s.Since(t.Context(), room, 0, int(last)+1)
		wantErr(t, "Since", err, nil)
		if more || !slices.Equal(seqs(msgs), seqRange(1, last)) {
			t.Fatalf("room %s: seqs %v, want 1..%d", room, seqs(msgs), last)
		}
		for _, m := range msgs {
			key := m.From + "/" + m.ID
			if seen[key] {
				t.Fatalf("message %s stored twice", key)
			}
			seen[key] = true
		}
		total += len(msgs)
	}
	if total != goroutines*perG {
		t.Fatalf("%d messages stored, want %d", total, goroutines*perG)
	}
}

// testConcurrentDuplicate: the same message retried from many goroutines at
// once is stored once; every caller gets its seq.
func testConcurrentDuplicate(t *testing.T, s store.Store) {
	const goroutines = 32
	createRoom(t, s, "d", false, "owner")
	for round := range 5 {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			stored  int
			seqSeen = map[uint64]bool{}
		)
		for range goroutines {
			wg.Go(func() {
				m, dup, err := s.Append(t.Context(), msg("d", "alice", fmt.Sprint(round)))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				if !dup {
					stored++
				}
				seqSeen[m.Seq] = true
			})
		}
		wg.Wait()
		if stored != 1 || len(seqSeen) != 1 || !seqSeen[uint64(round+1)] {
			t.Fatalf("round %d: stored %d times, seqs %v; want once at %d", round, stored, seqSeen, round+1)
		}
	}
}
