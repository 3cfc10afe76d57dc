//go:build linux

package poller

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests cover what is particular to the netpoll backend; the shared
// behaviour is in suite_test.go.

func startNetpoll(t *testing.T, h Handler, opts Options) Poller {
	t.Helper()
	if opts.Loops == 0 {
		opts.Loops = 2
	}
	p, err := New("netpoll", "127.0.0.1:0", h, opts)
	if err != nil {
		t.Fatalf("New(netpoll): %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// waitUntil polls cond (for states with no event to wait on) until deadline.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type pauseOnOpenHandler struct {
	countingHandler
	closeErr chan error
}

func (h *pauseOnOpenHandler) OnOpen(c Conn) {
	h.countingHandler.OnOpen(c)
	if err := c.PauseRead(); err != nil {
		panic(err)
	}
}
func (h *pauseOnOpenHandler) OnClose(_ Conn, err error) { h.closeErr <- err }

func TestNetpollPausedOverflowCloses(t *testing.T) {
	h := &pauseOnOpenHandler{closeErr: make(chan error, 1)}
	p := startNetpoll(t, h, Options{MaxPausedBytes: 8 << 10})
	c := dial(t, p)
	go c.Write(bytes.Repeat([]byte("x"), 256<<10)) // may fail once the server resets
	if err := recv(t, h.closeErr, "OnClose"); !errors.Is(err, ErrPausedOverflow) {
		t.Fatalf("OnClose err = %v, want ErrPausedOverflow", err)
	}
	if n := h.bytes.Load(); n != 0 {
		t.Fatalf("OnData got %d bytes while paused", n)
	}
}

// quitHandler closes its Conn from inside OnData when it sees "quit". With
// netpoll's inline runner this is the case that must not hang the poller.
type quitHandler struct {
	closed chan error
}

func (h *quitHandler) OnOpen(Conn)               {}
func (h *quitHandler) OnWritable(Conn)           {}
func (h *quitHandler) OnClose(_ Conn, err error) { h.closed <- err }
func (h *quitHandler) OnData(c Conn, data []byte) int {
	if bytes.Contains(data, []byte("quit")) {
		c.Close()
	}
	return len(data)
}

func TestNetpollCloseInsideOnData(t *testing.T) {
	for _, peerCloses := range []bool{false, true} {
		name := map[bool]string{false: "peer stays", true: "peer sends FIN with the data"}[peerCloses]
		t.Run(name, func(t *testing.T) {
			h := &quitHandler{closed: make(chan error, 64)}
			p := startNetpoll(t, h, Options{})
			const n = 32
			for i := 0; i < n; i++ {
				c := dial(t, p)
				c.Write([]byte("hello\nquit\n"))
				if peerCloses {
					c.(*net.TCPConn).CloseWrite()
				}
			}
			for i := 0; i < n; i++ {
				err := recv(t, h.closed, "OnClose")
				if !peerCloses && err != nil {
					t.Fatalf("OnClose err = %v, want nil", err)
				}
			}
			// The poller goroutines still serve new connections.
			e := dial(t, p)
			e.Write([]byte("quit"))
			recv(t, h.closed, "OnClose after the burst")
		})
	}
}

func TestNetpollResumeRedeliversWithoutNewBytes(t *testing.T) {
	h := newLineHandler(t, false)
	h.pauseOn = "pause"
	p := startNetpoll(t, h, Options{})
	c := dial(t, p)
	sc := recv(t, h.opened, "open")
	c.Write([]byte("pause\nafter\npart"))
	if got := recv(t, h.lines, "pause"); got != "pause" {
		t.Fatalf("line = %q", got)
	}
	if err := sc.ResumeRead(); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, h.lines, "after"); got != "after" {
		t.Fatalf("line = %q, want after", got)
	}
	c.Write([]byte("ial\n")) // the kept "part" is delivered again with newer bytes
	if got := recv(t, h.lines, "partial"); got != "partial" {
		t.Fatalf("line = %q, want partial", got)
	}
}

// strictHandler fails the test if callbacks for one Conn overlap or if any
// callback follows OnClose, while it echoes, asks for writability, pauses,
// resumes and closes from other goroutines.
type strictHandler struct {
	t       testing.TB
	closes  chan struct{}
	opened  atomic.Int64
	bytesIn atomic.Int64
}

type strictState struct {
	in     atomic.Int32
	closed atomic.Bool
}

func (h *strictHandler) enter(c Conn, what string) func() {
	st := c.Context().(*strictState)
	if st.closed.Load() {
		h.t.Errorf("conn %d: %s after OnClose", c.ID(), what)
	}
	if n := st.in.Add(1); n != 1 {
		h.t.Errorf("conn %d: %s overlaps another callback", c.ID(), what)
	}
	return func() { st.in.Add(-1) }
}

func (h *strictHandler) OnOpen(c Conn) {
	c.SetContext(&strictState{})
	h.opened.Add(1)
}

func (h *strictHandler) OnData(c Conn, data []byte) int {
	defer h.enter(c, "OnData")()
	h.bytesIn.Add(int64(len(data)))
	c.Write([][]byte{data})
	c.WantWrite()
	switch data[len(data)-1] {
	case 'p':
		go func() { c.PauseRead(); time.Sleep(time.Millisecond); c.ResumeRead() }()
	case 'c':
		go c.Close()
	}
	return len(data) - len(data)%3 // leave a tail now and then
}

func (h *strictHandler) OnWritable(c Conn) {
	defer h.enter(c, "OnWritable")()
	c.WantWrite() // keep the aux goroutine busy
}

func (h *strictHandler) OnClose(c Conn, _ error) {
	defer h.enter(c, "OnClose")()
	c.Context().(*strictState).closed.Store(true)
	h.closes <- struct{}{}
}

func TestNetpollCallbacksNeverOverlap(t *testing.T) {
	const conns = 40
	h := &strictHandler{t: t, closes: make(chan struct{}, conns)}
	p := startNetpoll(t, h, Options{})
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		c := dial(t, p)
		wg.Add(2)
		go func() { defer wg.Done(); io.Copy(io.Discard, c) }()
		go func() {
			defer wg.Done()
			msgs := []string{"ab", "p", "xyz", "qp", "hello"}
			for j := 0; j < 200; j++ {
				if _, err := c.Write([]byte(msgs[j%len(msgs)])); err != nil {
					return // the server closed it
				}
			}
			if i%2 == 0 {
				c.Write([]byte("c"))
			} else {
				c.(*net.TCPConn).CloseWrite()
			}
		}()
	}
	for i := 0; i < conns; i++ {
		recv(t, h.closes, "OnClose")
	}
	wg.Wait()
}

func TestNetpollGoroutinesDoNotGrowWithConns(t *testing.T) {
	h := &countingHandler{}
	p := startNetpoll(t, h, Options{})
	var clients []net.Conn
	goroutinesAt := func(n int) int {
		for len(clients) < n {
			clients = append(clients, dial(t, p))
		}
		waitUntil(t, "opens", func() bool { return h.opened.Load() == int64(n) })
		clients[0].Write([]byte("x")) // one round trip through a poller
		waitUntil(t, "data", func() bool { return h.bytes.Load() >= 1 })
		h.bytes.Store(0)
		return runtime.NumGoroutine()
	}
	small := goroutinesAt(10)
	large := goroutinesAt(1000)
	if large > small+2 { // slack: netpoll's short-lived hang-up goroutines
		t.Fatalf("goroutines: %d with 10 conns, %d with 1000", small, large)
	}
}

func TestNetpollConnIdentity(t *testing.T) {
	h := newLineHandler(t, false)
	p := startNetpoll(t, h, Options{Loops: 3})
	if p.Loops() != 3 {
		t.Fatalf("Loops = %d, want 3", p.Loops())
	}
	seen := map[uint64]bool{}
	for i := 0; i < 6; i++ {
		c := dial(t, p)
		sc := recv(t, h.opened, "open")
		if sc.Loop() < 0 || sc.Loop() >= 3 {
			t.Fatalf("Loop = %d, want 0..2", sc.Loop())
		}
		if seen[sc.ID()] {
			t.Fatalf("ID %d reused", sc.ID())
		}
		seen[sc.ID()] = true
		want := netip.MustParseAddrPort(c.LocalAddr().String())
		if sc.RemoteAddr() != want {
			t.Fatalf("RemoteAddr = %v, want %v", sc.RemoteAddr(), want)
		}
	}
}

// netpoll's configuration is process-wide; a second poller with other
// Options must still work (it shares the first one's netpoll settings).
func TestNetpollTwoPollersAtOnce(t *testing.T) {
	h1, h2 := newLineHandler(t, true), newLineHandler(t, true)
	p1 := startNetpoll(t, h1, Options{Loops: 1, ReadBufferSize: 512})
	p2 := startNetpoll(t, h2, Options{Loops: 4, ReadBufferSize: 4096})
	for _, p := range []Poller{p1, p2} {
		c := dial(t, p)
		c.Write([]byte("hi\n"))
		if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "hi\n" {
			t.Fatalf("echo = %q, %v", got, err)
		}
	}
}

func TestNetpollWriteAfterPeerGoneFails(t *testing.T) {
	h := newLineHandler(t, false)
	p := startNetpoll(t, h, Options{})
	c := dial(t, p)
	sc := recv(t, h.opened, "open")
	c.(*net.TCPConn).SetLinger(0) // reset, not FIN
	c.Close()
	recv(t, h.closed, "OnClose")
	if _, err := sc.Write([][]byte{[]byte("x")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after close = %v, want ErrClosed", err)
	}
	if err := sc.WantWrite(); !errors.Is(err, ErrClosed) {
		t.Fatalf("WantWrite after close = %v, want ErrClosed", err)
	}
	if err := sc.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func BenchmarkNetpollConnWrite(b *testing.B) {
	h := &countingHandler{}
	p, err := New("netpoll", "127.0.0.1:0", h, Options{Loops: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	go io.Copy(io.Discard, c)
	waitUntil(b, "open", func() bool { return h.opened.Load() == 1 })
	sc := h.last.Load().(Conn)
	bufs := [][]byte{[]byte("hdr"), bytes.Repeat([]byte("p"), 125)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sc.Write(bufs); err != nil && !errors.Is(err, ErrWouldBlock) {
			b.Fatal(err)
		}
	}
}
