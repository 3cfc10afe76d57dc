package storetest

import (
	"fmt"
	"slices"
	"testing"
)

// RunRetention checks count-based retention: open must return an empty store
// that keeps exactly the newest keep messages of each room (keep >= 2),
// trimming as it appends. Backends that trim otherwise (by age, in the
// background) test their own policy and still must honour the TrimmedError
// rule this checks.
func RunRetention(t *testing.T, open Opener, keep int) {
	if keep < 2 {
		t.Fatalf("RunRetention: keep %d, want at least 2", keep)
	}
	extra := keep/2 + 3
	total := uint64(keep + extra)
	oldest := uint64(extra + 1)

	t.Run("SinceTrimmed", func(t *testing.T) {
		s := open(t)
		createRoom(t, s, "r", false, "alice")
		appendN(t, s, "r", "alice", "m", int(total))
		for _, after := range []uint64{0, 1, oldest - 2} {
			_, _, err := s.Since(t.Context(), "r", after, 10)
			assertTrimmed(t, err, "r", oldest)
		}
		// From the oldest kept on, replay is whole.
		msgs, more, err := s.Since(t.Context(), "r", oldest-1, keep+10)
		wantErr(t, "Since(oldest-1)", err, nil)
		if more || !slices.Equal(seqs(msgs), seqRange(oldest, total)) {
			t.Fatalf("Since(%d) = %v more=%v; want %d..%d", oldest-1, seqs(msgs), more, oldest, total)
		}
		if last, err := s.LastSeq(t.Context(), "r"); err != nil || last != total {
			t.Fatalf("LastSeq = %d, %v; want %d", last, err, total)
		}
		if msgs, _, err := s.Since(t.Context(), "r", total, 10); err != nil || len(msgs) != 0 {
			t.Fatalf("Since(last) = %v, %v; want nothing", msgs, err)
		}
	})

	t.Run("HistoryStopsAtOldest", func(t *testing.T) {
		s := open(t)
		createRoom(t, s, "r", false, "alice")
		appendN(t, s, "r", "alice", "m", int(total))
		var got []uint64
		before := uint64(0)
		for i := 0; ; i++ {
			page, more, err := s.History(t.Context(), "r", before, 3)
			wantErr(t, "History", err, nil)
			got = append(seqs(page), got...)
			if !more {
				break
			}
			if i > keep {
				t.Fatal("History: more never ends")
			}
			before = page[0].Seq
		}
		if !slices.Equal(got, seqRange(oldest, total)) {
			t.Fatalf("History walk = %v, want %d..%d", got, oldest, total)
		}
		if page, more, err := s.History(t.Context(), "r", oldest, 10); err != nil || len(page) != 0 || more {
			t.Fatalf("History(before oldest) = %v more=%v %v; want nothing", seqs(page), more, err)
		}
	})

	t.Run("DuplicateWithinRetention", func(t *testing.T) {
		s := open(t)
		createRoom(t, s, "r", false, "alice")
		appendN(t, s, "r", "alice", "m", int(total))
		m, dup, err := s.Append(t.Context(), msg("r", "alice", fmt.Sprintf("m%d", total-1)))
		if err != nil || !dup || m.Seq != total {
			t.Fatalf("retry of the newest = seq %d dup=%v %v", m.Seq, dup, err)
		}
		m, dup, err = s.Append(t.Context(), msg("r", "alice", fmt.Sprintf("m%d", oldest-1)))
		if err != nil || !dup || m.Seq != oldest {
			t.Fatalf("retry of the oldest kept = seq %d dup=%v %v", m.Seq, dup, err)
		}
	})

	t.Run("RoomsIndependent", func(t *testing.T) {
		s := open(t)
		createRoom(t, s, "busy", false, "alice")
		createRoom(t, s, "quiet", false, "alice")
		appendN(t, s, "quiet", "alice", "q", 2)
		appendN(t, s, "busy", "alice", "m", int(total))
		msgs, _, err := s.Since(t.Context(), "quiet", 0, 10)
		if err != nil || !slices.Equal(seqs(msgs), seqRange(1, 2)) {
			t.Fatalf("quiet room: %v, %v", seqs(msgs), err)
		}
	})
}
