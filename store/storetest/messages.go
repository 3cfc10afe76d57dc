package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/switchboard-chat/switchboard/store"
)

func testAppendSeq(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "r", false, "alice")
	const n = 20
	var prev store.Message
	for i := range n {
		in := msg("r", "alice", fmt.Sprint(i))
		in.Seq, in.TS = 999, prev.TS.AddDate(-1, 0, 0) // ignored
		got, dup, err := s.Append(ctx, in)
		if err != nil || dup {
			t.Fatalf("Append %d: dup=%v err=%v", i, dup, err)
		}
		if got.Seq != uint64(i+1) || got.Room != "r" || got.From != "alice" || got.ID != in.ID ||
			string(got.Body) != string(in.Body) {
			t.Fatalf("Append %d = %+v", i, got)
		}
		checkTime(t, "TS", got.TS)
		if got.TS.Before(prev.TS) {
			t.Fatalf("TS went back: seq %d at %v after %v", got.Seq, got.TS, prev.TS)
		}
		if last, err := s.LastSeq(ctx, "r"); err != nil || last != got.Seq {
			t.Fatalf("LastSeq = %d, %v; want %d", last, err, got.Seq)
		}
		prev = got
	}
	// What Since and History return is what Append returned.
	all, more, err := s.Since(ctx, "r", 0, n)
	if err != nil || more || len(all) != n {
		t.Fatalf("Since(0, %d) = %d msgs, more=%v, %v", n, len(all), more, err)
	}
	hist, more, err := s.History(ctx, "r", 0, n)
	if err != nil || more || len(hist) != n {
		t.Fatalf("History(0, %d) = %d msgs, more=%v, %v", n, len(hist), more, err)
	}
	for i := range all {
		sameMessage(t, "Since vs History", all[i], hist[i])
	}
	sameMessage(t, "last message", all[n-1], prev)
}

func testAppendCopiesBody(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "r", false, "alice")
	body := []byte(`{"text":"original", "keep": [1, 2,3] }`) // spacing kept byte for byte
	want := string(body)
	got, _, err := s.Append(ctx, store.Message{Room: "r", From: "alice", ID: "m1", Body: body})
	wantErr(t, "Append", err, nil)
	copy(body, `{"text":"CLOBBERED"`)
	if string(got.Body) != want {
		t.Fatalf("returned body changed with the caller's slice: %s", got.Body)
	}
	hist, _, err := s.History(ctx, "r", 0, 1)
	if err != nil || len(hist) != 1 || string(hist[0].Body) != want {
		t.Fatalf("stored = %+v, %v; want body %q", hist, err, want)
	}
	batch, err := s.AppendBatch(ctx, []store.Message{{Room: "r", From: "alice", ID: "m2", Body: body}})
	wantErr(t, "AppendBatch", err, nil)
	batchWant := string(body)
	copy(body, `{"text":"AGAIN----"`)
	since, _, err := s.Since(ctx, "r", 1, 1)
	if err != nil || len(since) != 1 || string(since[0].Body) != batchWant || string(batch[0].Message.Body) != batchWant {
		t.Fatalf("AppendBatch body not copied: %+v", since)
	}
}

func testAppendDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "r", false, "alice")
	createRoom(t, s, "other", false, "alice")
	first, dup, err := s.Append(ctx, msg("r", "alice", "a"))
	if err != nil || dup || first.Seq != 1 {
		t.Fatalf("first Append = %+v dup=%v err=%v", first, dup, err)
	}
	appendN(t, s, "r", "alice", "x", 2) // seqs 2, 3

	cases := []struct {
		name    string
		m       store.Message
		dup     bool
		wantSeq uint64
	}{
		{"retry", msg("r", "alice", "a"), true, 1},
		{"retry with another body", store.Message{Room: "r", From: "alice", ID: "a", Body: json.RawMessage(`"changed"`)}, true, 1},
		{"same id, other sender", msg("r", "bob", "a"), false, 4},
		{"same id, other room", msg("other", "alice", "a"), false, 1},
		{"other sender's retry", msg("r", "bob", "a"), true, 4},
		{"retry after others", msg("r", "alice", "x1"), true, 3},
	}
	for _, tc := range cases {
		got, dup, err := s.Append(ctx, tc.m)
		wantErr(t, tc.name, err, nil)
		if dup != tc.dup || got.Seq != tc.wantSeq || got.Room != tc.m.Room || got.From != tc.m.From || got.ID != tc.m.ID {
			t.Fatalf("%s: Append = %+v dup=%v; want seq %d dup=%v", tc.name, got, dup, tc.wantSeq, tc.dup)
		}
		if tc.name == "retry with another body" {
			sameMessage(t, tc.name, got, first)
		}
	}
	if last, _ := s.LastSeq(ctx, "r"); last != 4 {
		t.Fatalf("LastSeq = %d, want 4: a duplicate took a seq", last)
	}
	// A duplicate inside one batch, and against the log.
	res, err := s.AppendBatch(ctx, []store.Message{msg("r", "carol", "c"), msg("r", "carol", "c"), msg("r", "alice", "a")})
	wantErr(t, "AppendBatch", err, nil)
	if res[0].Duplicate || res[0].Message.Seq != 5 || !res[1].Duplicate || res[1].Message.Seq != 5 ||
		!res[2].Duplicate || res[2].Message.Seq != 1 {
		t.Fatalf("AppendBatch with duplicates = %+v", res)
	}
}

func testMessageErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "r", false, "alice")
	appendN(t, s, "r", "alice", "m", 3)
	invalid := []struct {
		name string
		m    store.Message
		want error
	}{
		{"empty id", store.Message{Room: "r", From: "alice", Body: json.RawMessage(`1`)}, store.ErrInvalid},
		{"empty from", store.Message{Room: "r", ID: "x", Body: json.RawMessage(`1`)}, store.ErrInvalid},
		{"empty body", store.Message{Room: "r", From: "alice", ID: "x"}, store.ErrInvalid},
		{"unknown room", msg("nope", "alice", "x"), store.ErrNotFound},
		{"empty room", msg("", "alice", "x"), store.ErrNotFound},
	}
	for _, tc := range invalid {
		_, _, err := s.Append(ctx, tc.m)
		wantErr(t, "Append "+tc.name, err, tc.want)
	}
	reads := []struct {
		name string
		call func() error
		want error
	}{
		{"History unknown room", func() error { _, _, err := s.History(ctx, "nope", 0, 10); return err }, store.ErrNotFound},
		{"History limit 0", func() error { _, _, err := s.History(ctx, "r", 0, 0); return err }, store.ErrInvalid},
		{"History limit -1", func() error { _, _, err := s.History(ctx, "r", 0, -1); return err }, store.ErrInvalid},
		{"Since unknown room", func() error { _, _, err := s.Since(ctx, "nope", 0, 10); return err }, store.ErrNotFound},
		{"Since limit 0", func() error { _, _, err := s.Since(ctx, "r", 0, 0); return err }, store.ErrInvalid},
		{"LastSeq unknown room", func() error { _, err := s.LastSeq(ctx, "nope"); return err }, store.ErrNotFound},
	}
	for _, tc := range reads {
		wantErr(t, tc.name, tc.call(), tc.want)
	}
	if last, err := s.LastSeq(ctx, "r"); err != nil || last != 3 {
		t.Fatalf("LastSeq = %d, %v after rejected appends; want 3", last, err)
	}
}

func testAppendBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "a", false, "alice")
	createRoom(t, s, "b", false, "alice")
	appendN(t, s, "b", "alice", "pre", 2)

	res, err := s.AppendBatch(ctx, nil)
	if err != nil || len(res) != 0 {
		t.Fatalf("AppendBatch(nil) = %v, %v", res, err)
	}
	in := []store.Message{
		msg("a", "alice", "1"),
		msg("b", "bob", "1"),
		msg("a", "bob", "1"),
		{Room: "a", From: "alice", ID: "empty"},
		msg("nope", "alice", "1"),
		msg("a", "alice", "2"),
		msg("b", "alice", "pre0"), // duplicate of seq 1 in b
		msg("b", "bob", "2"),
	}
	want := []struct {
		seq uint64
		dup bool
		err error
	}{{1, false, nil}, {3, false, nil}, {2, false, nil}, {0, false, store.ErrInvalid}, {0, false, store.ErrNotFound},
		{3, false, nil}, {1, true, nil}, {4, false, nil}}
	res, err = s.AppendBatch(ctx, in)
	wantErr(t, "AppendBatch", err, nil)
	if len(res) != len(in) {
		t.Fatalf("AppendBatch: %d results for %d messages", len(res), len(in))
	}
	for i, w := range want {
		r := res[i]
		wantErr(t, fmt.Sprintf("item %d", i), r.Err, w.err)
		if w.err != nil {
			continue
		}
		if r.Message.Seq != w.seq || r.Duplicate != w.dup || r.Message.Room != in[i].Room || r.Message.ID != in[i].ID {
			t.Fatalf("item %d = %+v; want seq %d dup=%v", i, r, w.seq, w.dup)
		}
		checkTime(t, "TS", r.Message.TS)
	}
	for room, last := range map[string]uint64{"a": 3, "b": 4} {
		msgs, _, err := s.Since(ctx, room, 0, 10)
		if err != nil || !slices.Equal(seqs(msgs), seqRange(1, last)) {
			t.Fatalf("room %s after batch: seqs %v, %v", room, seqs(msgs), err)
		}
	}
}

// historyFixture appends n messages to room "h".
func historyFixture(t *testing.T, s store.Store, n int) []store.Message {
	t.Helper()
	createRoom(t, s, "h", false, "alice")
	return appendN(t, s, "h", "alice", "m", n)
}

func testHistory(t *testing.T, s store.Store) {
	const n = 53
	stored := historyFixture(t, s, n)
	cases := []struct {
		before     uint64
		limit      int
		lo, hi     uint64
		wantMore   bool
		whatBefore string
	}{
		{0, 50, 4, 53, true, "newest"},
		{0, 53, 1, 53, false, "newest, exactly all"},
		{0, 1000, 1, 53, false, "newest, more than all"},
		{54, 10, 44, 53, true, "last+1"},
		{1000, 10, 44, 53, true, "beyond last"},
		{53, 10, 43, 52, true, "last"},
		{11, 10, 1, 10, false, "exactly reaches 1"},
		{11, 9, 2, 10, true, "one short of 1"},
		{2, 10, 1, 1, false, "only seq 1 left"},
		{1, 10, 0, 0, false, "nothing before 1"},
	}
	for _, tc := range cases {
		t.Run(tc.whatBefore, func(t *testing.T) {
			got, more, err := s.History(t.Context(), "h", tc.before, tc.limit)
			wantErr(t, "History", err, nil)
			if !slices.Equal(seqs(got), seqRange(tc.lo, tc.hi)) || more != tc.wantMore {
				t.Fatalf("History(before %d, limit %d) = %v more=%v; want %d..%d more=%v",
					tc.before, tc.limit, seqs(got), more, tc.lo, tc.hi, tc.wantMore)
			}
			for _, m := range got {
				sameMessage(t, "History", m, stored[m.Seq-1])
			}
		})
	}
}

func testHistoryWalk(t *testing.T, s store.Store) {
	const n = 101
	historyFixture(t, s, n)
	for _, limit := range []int{1, 2, 7, 50, 100, 101, 102} {
		var pages [][]store.Message
		before := uint64(0)
		for {
			page, more, err := s.History(t.Context(), "h", before, limit)
			wantErr(t, "History", err, nil)
			if len(page) == 0 || len(page) > limit {
				t.Fatalf("limit %d, before %d: page of %d", limit, before, len(page))
			}
			pages = append(pages, page)
			if !more {
				break
			}
			if len(pages) > n+1 {
				t.Fatalf("limit %d: more never ends", limit)
			}
			before = page[0].Seq
		}
		var all []store.Message
		for i := len(pages) - 1; i >= 0; i-- {
			all = append(all, pages[i]...)
		}
		if !slices.Equal(seqs(all), seqRange(1, n)) {
			t.Fatalf("limit %d: walking back gives %v", limit, seqs(all))
		}
	}
}

func testSince(t *testing.T, s store.Store) {
	const n = 30
	stored := historyFixture(t, s, n)
	cases := []struct {
		after    uint64
		limit    int
		lo, hi   uint64
		wantMore bool
	}{
		{0, 100, 1, 30, false},
		{0, 30, 1, 30, false},
		{0, 29, 1, 29, true},
		{0, 1, 1, 1, true},
		{10, 5, 11, 15, true},
		{25, 5, 26, 30, false},
		{29, 5, 30, 30, false},
		{30, 5, 0, 0, false},
		{31, 5, 0, 0, false},
		{1 << 62, 5, 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("after=%d,limit=%d", tc.after, tc.limit), func(t *testing.T) {
			got, more, err := s.Since(t.Context(), "h", tc.after, tc.limit)
			wantErr(t, "Since", err, nil)
			if !slices.Equal(seqs(got), seqRange(tc.lo, tc.hi)) || more != tc.wantMore {
				t.Fatalf("Since(%d, %d) = %v more=%v; want %d..%d more=%v",
					tc.after, tc.limit, seqs(got), more, tc.lo, tc.hi, tc.wantMore)
			}
			for _, m := range got {
				sameMessage(t, "Since", m, stored[m.Seq-1])
			}
		})
	}
	// Walking forward page by page sees every message once.
	var all []uint64
	after := uint64(0)
	for {
		page, more, err := s.Since(t.Context(), "h", after, 7)
		wantErr(t, "Since", err, nil)
		all = append(all, seqs(page)...)
		if !more {
			break
		}
		after = page[len(page)-1].Seq
	}
	if !slices.Equal(all, seqRange(1, n)) {
		t.Fatalf("walking forward gives %v", all)
	}
}

func testEmptyRoom(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "e", false, "alice")
	if last, err := s.LastSeq(ctx, "e"); err != nil || last != 0 {
		t.Fatalf("LastSeq = %d, %v; want 0", last, err)
	}
	for _, after := range []uint64{0, 5} {
		msgs, more, err := s.Since(ctx, "e", after, 10)
		if err != nil || len(msgs) != 0 || more {
			t.Fatalf("Since(%d) on an empty room = %v, %v, %v", after, msgs, more, err)
		}
	}
	for _, before := range []uint64{0, 1, 5} {
		msgs, more, err := s.History(ctx, "e", before, 10)
		if err != nil || len(msgs) != 0 || more {
			t.Fatalf("History(%d) on an empty room = %v, %v, %v", before, msgs, more, err)
		}
	}
}

// assertTrimmed fails the test unless err is a *store.TrimmedError for room
// with Oldest oldest.
func assertTrimmed(t testing.TB, err error, room string, oldest uint64) {
	t.Helper()
	var te *store.TrimmedError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *store.TrimmedError", err)
	}
	if te.Oldest != oldest || te.Room != room {
		t.Fatalf("TrimmedError = %+v, want room %q oldest %d", te, room, oldest)
	}
}
