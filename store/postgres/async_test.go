package postgres

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-chat/switchboard/store"
)

// AppendAsync from one goroutine: every done is called exactly once, and
// each room's messages get seqs in the order they were handed over.
func TestAppendAsyncOrderAndOnce(t *testing.T) {
	s, _ := openWithRoom(t, Options{})
	ctx := t.Context()
	if _, err := s.CreateRoom(ctx, store.Room{ID: "q", CreatedBy: "bob"}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var mu sync.Mutex
	results := map[string][]store.AppendResult{}
	var wg sync.WaitGroup
	for i := range n {
		room := []string{"r", "q"}[i%2]
		wg.Add(1)
		s.AppendAsync(ctx, store.Message{Room: room, ID: fmt.Sprint(i), From: "alice", Body: []byte(`1`)},
			func(res store.AppendResult) {
				mu.Lock()
				results[room] = append(results[room], res)
				mu.Unlock()
				wg.Done() // a second call panics (negative counter)
			})
	}
	wg.Wait()
	for room, rs := range results {
		if len(rs) != n/2 {
			t.Fatalf("room %s: %d results, want %d", room, len(rs), n/2)
		}
		for i, r := range rs {
			if r.Err != nil || r.Message.Seq != uint64(i+1) || r.Message.ID != fmt.Sprint(2*i+map[string]int{"r": 0, "q": 1}[room]) {
				t.Fatalf("room %s: result %d = %+v: not in hand-over order", room, i, r)
			}
		}
	}
	if commits, msgs := s.CommitStats(); msgs != n || commits >= n {
		t.Errorf("%d messages in %d commits, want %d in fewer", msgs, commits, n)
	}
}

// Close with appends queued behind a blocked commit calls every done once,
// each stored or failed with ErrUnavailable; after Close, done is called
// at once with ErrUnavailable.
func TestAppendAsyncClose(t *testing.T) {
	s, url := openWithRoom(t, Options{Committers: 1})
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM room_seqs q JOIN rooms r ON r.pk = q.pk WHERE r.id = 'r' FOR UPDATE OF q`); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var mu sync.Mutex
	calls := make([]int, n)
	var errs []error
	for i := range n {
		s.AppendAsync(ctx, store.Message{Room: "r", ID: fmt.Sprint(i), From: "alice", Body: []byte(`1`)},
			func(res store.AppendResult) {
				mu.Lock()
				defer mu.Unlock()
				calls[i]++
				if res.Err != nil {
					errs = append(errs, res.Err)
				}
			})
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	// Once Close has stopped new enqueues, let the blocked commit finish:
	// what is still queued behind it is failed by Close.
	waitFor(t, "Close to begin", 10*time.Second, func() error {
		s.commits.enq.RLock()
		defer s.commits.enq.RUnlock()
		if !s.commits.closed {
			return errors.New("not closing yet")
		}
		return nil
	})
	tx.Rollback(ctx)
	<-closed
	mu.Lock()
	for i, c := range calls {
		if c != 1 {
			t.Errorf("append %d: done called %d times, want once", i, c)
		}
	}
	for _, err := range errs {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("append failed with %v, want ErrUnavailable", err)
		}
	}
	mu.Unlock()
	var after error
	s.AppendAsync(ctx, store.Message{Room: "r", ID: "late", From: "alice", Body: []byte(`1`)},
		func(res store.AppendResult) { after = res.Err })
	if !errors.Is(after, store.ErrUnavailable) {
		t.Errorf("AppendAsync after Close: %v, want ErrUnavailable at once", after)
	}
}
