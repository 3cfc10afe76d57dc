package engine

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard/poller"
)

func TestMain(m *testing.M) {
	// netpoll starts its pollers once per process and never stops them.
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait"),
		goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait.func1"),
		// The HTTP clients' idle keep-alive connections in interop tests.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// quietLogger keeps test output to failures.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startEngine runs an engine with the echo app at /echo on a free port and
// shuts it down when the test ends.
func startEngine(t testing.TB, backend string, mutate func(*Config)) *Engine {
	t.Helper()
	return startEngineRoutes(t, backend, mutate, nil)
}

// startEngineRoutes is startEngine with more routes registered by routes
// before Start.
func startEngineRoutes(t testing.TB, backend string, mutate func(*Config), routes func(*Engine)) *Engine {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0", Backend: backend, Loops: 2, Logger: quietLogger()}
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.Handle("/echo", Echo{})
	if routes != nil {
		routes(e)
	}
	if err := e.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return e
}

func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	t.Helper()
	for _, b := range poller.Backends {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

func wsURL(e *Engine, path string) string { return "ws://" + e.Addr().String() + path }

// rawDial opens a plain TCP connection to the engine.
func rawDial(t testing.TB, e *Engine) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

func upgradeRequest(path string) string {
	var key [16]byte
	rand.Read(key[:])
	return "GET " + path + " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\n\r\n"
}

// rawUpgrade performs the handshake over c and returns a reader positioned
// at the first frame.
func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func rawUpgrade(t testing.TB, c net.Conn, path string) *bufio.Reader {
	t.Helper()
	if _, err := io.WriteString(c, upgradeRequest(path)); err != nil {
		t.Fatalf("write request: %v", err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	return r
}

// maskedFrame builds one client frame.
func maskedFrame(op ws.OpCode, fin bool, payload []byte) []byte {
	h := ws.Header{Fin: fin, OpCode: op, Masked: true, Length: int64(len(payload)), Mask: ws.NewMask()}
	var b strings.Builder
	ws.WriteHeader(&b, h)
	p := append([]byte(nil), payload...)
	ws.Cipher(p, h.Mask, 0)
	return append([]byte(b.String()), p...)
}

// readFrame reads one server frame.
func readFrame(t testing.TB, r io.Reader) (ws.Header, []byte) {
	t.Helper()
	h, err := ws.ReadHeader(r)
	if err != nil {
		t.Fatalf("read frame header: %v", err)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(r, p); err != nil {
		t.Fatalf("read frame payload: %v", err)
	}
	if h.Masked {
		t.Fatal("server frame is masked")
	}
	return h, p
}

// expectClose reads frames until a close frame and checks its code.
func expectClose(t testing.TB, r io.Reader, want ws.StatusCode) {
	t.Helper()
	for {
		h, p := readFrame(t, r)
		if h.OpCode != ws.OpClose {
			continue
		}
		if len(p) < 2 {
			t.Fatalf("close frame without a code, want %d", want)
		}
		code := ws.StatusCode(uint16(p[0])<<8 | uint16(p[1]))
		if code != want {
			t.Fatalf("close code %d (%q), want %d", code, p[2:], want)
		}
		return
	}
}

// waitFor polls cond until it holds or the deadline passes. It waits on a
// state the test cannot be told about directly (a counter in another
// goroutine); the polling interval is not what the test measures.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
