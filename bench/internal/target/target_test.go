package target

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitHealthyAndAdmin(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			// Unhealthy twice, then healthy: WaitHealthy must keep trying.
			if calls.Add(1) < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		case "/debug/stats":
			_, _ = w.Write([]byte(`{"conns":7,"goroutines":3}`))
		case "/debug/gc":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if err := WaitHealthy(ctx, srv.URL+"/healthz", 5*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	a := NewAdmin(strings.TrimPrefix(srv.URL, "http://"))
	if s, err := a.Stats(ctx); err != nil || s.Conns != 7 || s.Goroutines != 3 {
		t.Fatalf("Stats = %+v, %v", s, err)
	}
	if err := a.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := a.WaitConns(ctx, 7, time.Second); err != nil || n != 7 {
		t.Fatalf("WaitConns = %d, %v", n, err)
	}
	if _, err := a.WaitConns(ctx, 8, 300*time.Millisecond); err == nil {
		t.Fatal("WaitConns for a count never reached returned no error")
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 3 || ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
		t.Fatalf("ports = %v", ports)
	}
}

func TestWaitHealthyGivesUp(t *testing.T) {
	gone := errors.New("exit status 1")
	err := WaitHealthy(context.Background(), "http://127.0.0.1:1/healthz", 5*time.Second, func() error { return gone })
	if !errors.Is(err, gone) {
		t.Fatalf("err = %v, want the exit error", err)
	}
	err = WaitHealthy(context.Background(), "http://127.0.0.1:1/healthz", 300*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "not healthy") {
		t.Fatalf("err = %v, want a timeout", err)
	}
}
