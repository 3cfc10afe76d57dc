package target

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// FreePorts asks the kernel for n free loopback ports. They are released
// before the server binds them; on an otherwise quiet loopback nothing
// takes them in between.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Addrs returns a fresh pair of loopback listen addresses for --addr and
// --admin-addr.
func Addrs() (addr, admin string, err error) {
	ports, err := FreePorts(2)
	if err != nil {
		return "", "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]), nil
}

// WaitHealthy polls GET url until it answers 200, the timeout passes, or
// exited (which may be nil) reports a non-nil error, meaning the server is
// gone and waiting is pointless.
func WaitHealthy(ctx context.Context, url string, timeout time.Duration, exited func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for {
		if exited != nil {
			if err := exited(); err != nil {
				return fmt.Errorf("server exited before it was healthy: %w", err)
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /healthz: %s", resp.Status)
		}
		lastErr = err
		if Sleep(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("server not healthy within %s: %v", timeout, lastErr)
		}
	}
}

// Stats is the server's GET /debug/stats answer.
type Stats struct {
	Conns      int64  `json:"conns"`
	Goroutines int64  `json:"goroutines"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	HeapInuse  uint64 `json:"heap_inuse"`
	HeapSys    uint64 `json:"heap_sys"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	NumGC      uint64 `json:"num_gc"`
}

// Admin talks to the server's admin address.
type Admin struct {
	base string // http://127.0.0.1:Q
	http *http.Client
}

// NewAdmin returns a client for the admin listener at addr (host:port).
func NewAdmin(addr string) Admin {
	return Admin{base: "http://" + addr, http: &http.Client{Timeout: 10 * time.Second}}
}

// Stats fetches GET /debug/stats.
func (a Admin) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/debug/stats", nil)
	if err != nil {
		return s, err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET /debug/stats: %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&s); err != nil {
		return s, fmt.Errorf("GET /debug/stats: %w", err)
	}
	return s, nil
}

// GC sends POST /debug/gc (GC plus FreeOSMemory in the server).
func (a Admin) GC(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/debug/gc", nil)
	if err != nil {
		return err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST /debug/gc: %s", resp.Status)
	}
	return nil
}

// WaitConns polls /debug/stats until the server reports want connections
// or the timeout passes; it returns the last count seen (-1 if none).
func (a Admin) WaitConns(ctx context.Context, want int64, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	got := int64(-1)
	for {
		if s, err := a.Stats(ctx); err == nil {
			got = s.Conns
			if got == want {
				return got, nil
			}
		}
		if Sleep(ctx, 100*time.Millisecond) != nil {
			return got, fmt.Errorf("server reports %d conns, want %d, after %s", got, want, timeout)
		}
	}
}

// Sleep waits for d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
