package memory

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/switchboard-chat/switchboard/store"
)

var benchBody = json.RawMessage(`{"text":"hello, this is a typical short chat message"}`)

func benchRooms(b *testing.B, s *Store, n int) []string {
	b.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("room-%d", i)
		if _, err := s.CreateRoom(b.Context(), store.Room{ID: ids[i], CreatedBy: "owner"}); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

// BenchmarkAppend: parallel publishers over many rooms. One of the allocs per
// op is the benchmark's own message id string.
func BenchmarkAppend(b *testing.B) {
	for _, rooms := range []int{1, 1024} {
		b.Run(fmt.Sprintf("rooms=%d", rooms), func(b *testing.B) {
			s, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ids := benchRooms(b, s, rooms)
			var next atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := b.Context()
				from := "user" + strconv.FormatUint(next.Add(1)<<32, 10)
				for i := 0; pb.Next(); i++ {
					m := store.Message{Room: ids[i%len(ids)], From: from, ID: strconv.Itoa(i), Body: benchBody}
					if _, _, err := s.Append(ctx, m); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkAppendBatch: the same load handed over 64 messages at a time.
func BenchmarkAppendBatch(b *testing.B) {
	const batch = 64
	s, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ids := benchRooms(b, s, 1024)
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		from := "user" + strconv.FormatUint(next.Add(1), 10)
		ms := make([]store.Message, 0, batch)
		flush := func() {
			if _, err := s.AppendBatch(ctx, ms); err != nil {
				b.Error(err)
			}
			ms = ms[:0]
		}
		for i := 0; pb.Next(); i++ {
			// Consecutive messages share a room, as a room's publish
			// queue would hand them over.
			ms = append(ms, store.Message{Room: ids[(i/8)%len(ids)], From: from, ID: strconv.Itoa(i), Body: benchBody})
			if len(ms) == batch {
				flush()
			}
		}
		if len(ms) > 0 {
			flush()
		}
	})
}

// BenchmarkHistory: one page of a full room, newest and deep.
func BenchmarkHistory(b *testing.B) {
	s, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchRooms(b, s, 1)
	for i := range defaultMaxMessages + 500 {
		if _, _, err := s.Append(b.Context(), store.Message{Room: "room-0", From: "u", ID: strconv.Itoa(i), Body: benchBody}); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		before uint64
		limit  int
	}{{"newest/50", 0, 50}, {"deep/50", 2000, 50}, {"newest/200", 0, 200}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := b.Context()
				for pb.Next() {
					msgs, _, err := s.History(ctx, "room-0", tc.before, tc.limit)
					if err != nil || len(msgs) != tc.limit {
						b.Errorf("History = %d msgs, %v", len(msgs), err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSince: replay of 50 after a short disconnect.
func BenchmarkSince(b *testing.B) {
	s, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchRooms(b, s, 1)
	for i := range 1000 {
		if _, _, err := s.Append(b.Context(), store.Message{Room: "room-0", From: "u", ID: strconv.Itoa(i), Body: benchBody}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if msgs, _, err := s.Since(b.Context(), "room-0", 950, 100); err != nil || len(msgs) != 50 {
			b.Fatalf("Since = %d, %v", len(msgs), err)
		}
	}
}
