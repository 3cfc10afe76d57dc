//go:build linux

package poller

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// countingHandler consumes everything and counts; it keeps no per-conn state,
// so the heap it adds per connection is zero.
type countingHandler struct {
	opened, closed atomic.Int64
	bytes          atomic.Int64
	last           atomic.Value // the Conn opened last
}

func (h *countingHandler) OnOpen(c Conn) {
	h.last.Store(c)
	h.opened.Add(1)
}
func (h *countingHandler) OnWritable(Conn)     {}
func (h *countingHandler) OnClose(Conn, error) { h.closed.Add(1) }
func (h *countingHandler) OnData(_ Conn, data []byte) int {
	h.bytes.Add(int64(len(data)))
	return len(data)
}

// idleConnCost opens n connections to a fresh poller of the given backend
// from raw sockets (an fd each, no Go heap on the client side) and returns the
// Go heap bytes per connection, measured with runtime.ReadMemStats after GC:
// silent is right after accept, afterRequest once each conn has sent and the
// handler has consumed a 256-byte request (the shape of a WebSocket
// handshake), i.e. the cost of an idle connection that has done its opening.
// For netpoll, afterRequest also bills the burst itself: netpoll's pollers
// double their per-poller event arrays (about 1.3 KB per epoll slot, never
// shrunk) whenever one epoll_wait returns a full batch, and 2,000 requests
// sent at once do that.
func idleConnCost(tb testing.TB, backend string, n int) (silent, afterRequest float64) {
	tb.Helper()
	h := &countingHandler{}
	p, err := New(backend, "127.0.0.1:0", h, Options{Loops: 2})
	if err != nil {
		tb.Fatal(err)
	}
	defer p.Close()
	port := p.Addr().(*net.TCPAddr).Port

	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	dialN := func(k int) {
		for i := 0; i < k; i++ {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				tb.Fatal(err)
			}
			fds = append(fds, fd)
			if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				tb.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}

	// Warm up once-per-process and once-per-poller allocations (netpoll's
	// pollers and operator cache, the fd table) so they are not billed per
	// connection.
	const warm = 64
	dialN(warm)
	waitFor("warm-up opens", func() bool { return h.opened.Load() == warm })
	base := heap()

	for opened := 0; opened < n; opened += 200 { // stay under the listen backlog
		k := min(200, n-opened)
		dialN(k)
		want := int64(warm + opened + k)
		waitFor("opens", func() bool { return h.opened.Load() == want })
	}
	silent = float64(int64(heap())-int64(base)) / float64(n)

	req := make([]byte, 256)
	for _, fd := range fds {
		if _, err := unix.Write(fd, req); err != nil {
			tb.Fatal(err)
		}
	}
	waitFor("requests consumed", func() bool { return h.bytes.Load() == int64(len(fds)*len(req)) })
	afterRequest = float64(int64(heap())-int64(base)) / float64(n)
	runtime.KeepAlive(p)
	return silent, afterRequest
}

// TestNetpollIdleConnMemory reports (and loosely bounds) the Go heap an idle
// netpoll connection costs. Run with -v to see the numbers.
func TestNetpollIdleConnMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 connections")
	}
	const n = 2000
	silent, after := idleConnCost(t, "netpoll", n)
	t.Logf("netpoll: %d idle conns: %.0f heap bytes/conn right after accept, %.0f after a consumed 256-byte request", n, silent, after)
	if raceEnabled {
		return // the race runtime and netpoll's race build add their own per-conn state
	}
	// A bound, not a benchmark: it catches a regression such as netpoll's
	// 4 KiB/8 KiB default blocks coming back.
	if limit := 6000.0; after > limit {
		t.Errorf("idle netpoll conn costs %.0f heap bytes, want <= %.0f", after, limit)
	}
}

// BenchmarkIdleConnMemory reports heap bytes per idle connection for each
// backend (b.N is ignored: the measurement is one fixed population).
func BenchmarkIdleConnMemory(b *testing.B) {
	for _, backend := range Backends {
		b.Run(backend, func(b *testing.B) {
			var silent, after float64
			for range b.N {
				silent, after = idleConnCost(b, backend, 2000)
			}
			b.ReportMetric(silent, "heapB/conn-silent")
			b.ReportMetric(after, "heapB/conn-idle")
		})
	}
}
