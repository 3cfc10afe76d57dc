package engine

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"

	"github.com/switchboard-chat/switchboard/protocol"
)

func TestHandshakeAndFramesByteAtATime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, nil)
		c := rawDial(t, e)
		c.(*net.TCPConn).SetNoDelay(true)
		stream := []byte(upgradeRequest("/echo"))
		frame := maskedFrame(ws.OpText, true, []byte("one byte at a time"))
		stream = append(stream, frame...)
		for i := range stream {
			if _, err := c.Write(stream[i : i+1]); err != nil {
				t.Fatal(err)
			}
		}
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("response %v, %v; want 101", resp, err)
		}
		h, p := readFrame(t, r)
		if h.OpCode != ws.OpText || string(p) != "one byte at a time" {
			t.Fatalf("echo = %v %q", h.OpCode, p)
		}
	})
}

func TestPipelinedFrameAfterRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, nil)
		c := rawDial(t, e)
		// Request and two frames in one write: the engine must not lose the
		// bytes that follow the request in the same read.
		stream := append([]byte(upgradeRequest("/echo")), maskedFrame(ws.OpBinary, true, []byte{1, 2, 3})...)
		stream = append(stream, maskedFrame(ws.OpText, true, []byte("second"))...)
		c.Write(stream)
		r := bufio.NewReader(c)
		if resp, err := http.ReadResponse(r, nil); err != nil || resp.StatusCode != 101 {
			t.Fatalf("response %v, %v", resp, err)
		}
		if _, p := readFrame(t, r); !bytes.Equal(p, []byte{1, 2, 3}) {
			t.Fatalf("first echo %v", p)
		}
		if _, p := readFrame(t, r); string(p) != "second" {
			t.Fatalf("second echo %q", p)
		}
	})
}

func TestHTTPAnswers(t *testing.T) {
	e := startEngine(t, "epoll", func(c *Config) { c.MaxHeaderBytes = 1024 })
	key := "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	up := "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	for _, tc := range []struct {
		name    string
		request string
		status  int
		header  string // a header line the answer must carry
	}{
		{"healthz", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200, ""},
		{"unknown path", "GET /nope HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 13\r\n\r\n", 404, ""},
		{"not an upgrade", "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 426, ""},
		{"wrong version", "GET /echo HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 8\r\n\r\n", 426, "Sec-Websocket-Version"},
		{"missing key", "GET /echo HTTP/1.1\r\nHost: x\r\n" + up + "Sec-WebSocket-Version: 13\r\n\r\n", 400, ""},
		{"missing host", "GET /echo HTTP/1.1\r\n" + up + key + "Sec-WebSocket-Version: 13\r\n\r\n", 400, ""},
		{"POST", "POST /echo HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 13\r\n\r\n", 405, ""},
		{"header too large", "GET /echo HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 2000) + "\r\n\r\n", 431, ""},
		{"garbage", "\x16\x03\x01 not http at all\r\n\r\n", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawDial(t, e)
			io.WriteString(c, tc.request)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.header != "" && resp.Header.Get(tc.header) == "" {
				t.Fatalf("answer lacks %s: %v", tc.header, resp.Header)
			}
			// Then the server closes the connection.
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("connection still open after an HTTP answer")
			}
		})
	}
}

func TestSlowlorisClosedAtDeadlineWithoutBlockingOthers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, func(c *Config) {
			c.HandshakeTimeout = 300 * time.Millisecond
			c.TickInterval = 20 * time.Millisecond
		})
		slow := make([]net.Conn, 20)
		for i := range slow {
			slow[i] = rawDial(t, e)
			io.WriteString(slow[i], "GET /echo HTTP/1.1\r\nHost: x\r\n") // and never the rest
		}
		// Others are served meanwhile.
		g := gorillaDial(t, e, nil)
		if err := g.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, p, err := g.ReadMessage(); err != nil || string(p) != "hi" {
			t.Fatalf("echo while slowloris pending: %q %v", p, err)
		}
		start := time.Now()
		for _, c := range slow {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("slow client got data instead of a close")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("slow client not closed within 5s of a 300ms handshake deadline")
			}
		}
		if got := e.Stats().HandshakeTimeouts; got != uint64(len(slow)) {
			t.Fatalf("HandshakeTimeouts = %d, want %d (waited %v)", got, len(slow), time.Since(start))
		}
	})
}

// countGoroutines waits for the goroutine count to settle and returns it.
func countGoroutines() int {
	prev := -1
	for i := 0; i < 50; i++ {
		n := runtime.NumGoroutine()
		if n == prev {
			return n
		}
		prev = n
		time.Sleep(20 * time.Millisecond)
	}
	return prev
}

func TestGoroutineCountFlatFrom10To5000Connections(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, nil)
		// Raw clients: a net.Conn that nobody reads from has no goroutine,
		// so any growth would be the server's.
		open := func(n int) {
			for i := 0; i < n; i++ {
				c := rawDial(t, e)
				rawUpgrade(t, c, "/echo")
			}
		}
		open(10)
		waitFor(t, "10 upgraded", func() bool { return e.Stats().Conns == 10 })
		at10 := countGoroutines()
		open(4990)
		waitFor(t, "5000 upgraded", func() bool { return e.Stats().Conns == 5000 })
		at5000 := countGoroutines()
		if at5000 != at10 {
			t.Fatalf("goroutines: %d with 10 connections, %d with 5000", at10, at5000)
		}
		t.Logf("%s: %d goroutines in the test process at 10 and at 5000 connections", backend, at10)
	})
}

func TestMaxConnsAnswers503(t *testing.T) {
	e := startEngine(t, "epoll", func(c *Config) { c.MaxConns = 2; c.RetryAfter = 7 * time.Second })
	gorillaDial(t, e, nil)
	gorillaDial(t, e, nil)
	waitFor(t, "2 upgraded", func() bool { return e.Stats().Conns == 2 })
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(e, "/echo"), nil)
	if err == nil {
		t.Fatal("third connection upgraded past MaxConns=2")
	}
	if resp == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("over capacity: resp %+v, err %v; want 503 with Retry-After: 7", resp, err)
	}
}

func TestProtocolViolationsGetTheirCloseCode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, func(c *Config) { c.MaxFrameBytes = 1024; c.MaxMessageBytes = 1024 })
		unmasked := []byte{0x81, 0x02, 'h', 'i'}
		for _, tc := range []struct {
			name  string
			bytes []byte
			code  ws.StatusCode
		}{
			{"unmasked frame", unmasked, ws.StatusProtocolError},
			{"reserved opcode", maskedFrame(ws.OpCode(0x3), true, nil), ws.StatusProtocolError},
			{"frame too large", maskedFrame(ws.OpBinary, true, make([]byte, 2000)), ws.StatusMessageTooBig},
			{"message too large", append(maskedFrame(ws.OpBinary, false, make([]byte, 800)),
				maskedFrame(ws.OpContinuation, true, make([]byte, 800))...), ws.StatusMessageTooBig},
			{"invalid utf-8", maskedFrame(ws.OpText, true, []byte{0xff, 'a'}), ws.StatusInvalidFramePayloadData},
			{"fragmented ping", maskedFrame(ws.OpPing, false, nil), ws.StatusProtocolError},
			{"invalid close code", maskedFrame(ws.OpClose, true, []byte{0x03, 0xed}), ws.StatusProtocolError},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := rawDial(t, e)
				r := rawUpgrade(t, c, "/echo")
				c.Write(tc.bytes)
				expectClose(t, r, tc.code)
			})
		}
		// Other clients are unaffected.
		g := gorillaDial(t, e, nil)
		g.WriteMessage(websocket.TextMessage, []byte("fine"))
		if _, p, err := g.ReadMessage(); err != nil || string(p) != "fine" {
			t.Fatalf("echo after violations: %q %v", p, err)
		}
	})
}

func TestShutdownClosesWith1001(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		cfg := Config{Addr: "127.0.0.1:0", Backend: backend, Loops: 2, Logger: quietLogger()}
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.Handle("/echo", Echo{})
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		conns := []*websocket.Conn{gorillaDial(t, e, nil), gorillaDial(t, e, nil), gorillaDial(t, e, nil)}
		waitFor(t, "3 upgraded", func() bool { return e.Stats().Conns == 3 })
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := c.ReadMessage() // gorilla answers the close frame
				if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseGoingAway {
					t.Errorf("read during shutdown = %v, want close 1001", err)
				}
			}()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown = %v, want a clean drain", err)
		}
		wg.Wait()
		if _, err := net.DialTimeout("tcp", e.Addr().String(), time.Second); err == nil {
			t.Fatal("still accepting after Shutdown")
		}
	})
}

func TestSlowConsumerIsClosedWith4001(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		// The close frame waits behind what the socket already holds, and
		// the client reads only after the eviction: a CloseTimeout that
		// passed before a starved test goroutine got to read would drop the
		// connection with the close frame still queued. The test checks the
		// close code, not how long the server waits for the answer.
		e := startEngine(t, backend, func(c *Config) {
			c.OutboundBudget = 64 << 10
			c.CloseTimeout = time.Minute
		})
		c := rawDial(t, e)
		r := rawUpgrade(t, c, "/echo")
		// Send far more than socket buffers plus the budget hold, without
		// reading: the echoes pile up in the server's outbound queue.
		frame := maskedFrame(ws.OpBinary, true, make([]byte, 16<<10))
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 2048 && e.Stats().SlowConsumers == 0; i++ {
				if _, err := c.Write(frame); err != nil {
					return
				}
			}
		}()
		waitFor(t, "slow consumer eviction", func() bool { return e.Stats().SlowConsumers == 1 })
		<-done
		expectClose(t, r, protocol.StatusSlowConsumer)
	})
}

// gatedApp blocks its first message until the gate opens and records order.
type gatedApp struct {
	Echo
	gate chan struct{}
	once sync.Once
	mu   sync.Mutex
	got  []string
}

func (a *gatedApp) OnMessage(c *Conn, op ws.OpCode, msg []byte) {
	a.once.Do(func() { <-a.gate })
	a.mu.Lock()
	a.got = append(a.got, string(msg))
	a.mu.Unlock()
}

func TestFullWorkerQueuePausesReadingAndKeepsOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		app := &gatedApp{gate: make(chan struct{})}
		cfg := Config{Addr: "127.0.0.1:0", Backend: backend, Loops: 1, Workers: 1, WorkerQueue: 2,
			Logger: quietLogger()}
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.Handle("/echo", app)
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		defer e.Shutdown(context.Background())
		g := gorillaDial(t, e, nil)
		const n = 50
		for i := 0; i < n; i++ {
			g.WriteMessage(websocket.TextMessage, []byte{byte('A' + i%26), byte('0' + i/26)})
		}
		waitFor(t, "backpressure", func() bool { return e.Stats().BackpressureHits > 0 })
		close(app.gate)
		waitFor(t, "all messages", func() bool {
			app.mu.Lock()
			defer app.mu.Unlock()
			return len(app.got) == n
		})
		for i, m := range app.got {
			if want := string([]byte{byte('A' + i%26), byte('0' + i/26)}); m != want {
				t.Fatalf("message %d = %q, want %q (order lost)", i, m, want)
			}
		}
	})
}

func TestKeepalivePingsLiveClientsAndDropsDeadOnes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, func(c *Config) {
			c.PingInterval = 150 * time.Millisecond
			c.PongTimeout = 150 * time.Millisecond
			c.TickInterval = 10 * time.Millisecond
		})
		live := gorillaDial(t, e, nil)
		pings := make(chan struct{}, 16)
		live.SetPingHandler(func(s string) error {
			pings <- struct{}{}
			return live.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
		})
		go live.ReadMessage()
		dead := rawDial(t, e)
		r := rawUpgrade(t, dead, "/echo")
		// The dead client never answers: it sees a ping, then the close.
		if h, _ := readFrame(t, r); h.OpCode != ws.OpPing {
			t.Fatalf("first frame %v, want ping", h.OpCode)
		}
		if _, err := r.ReadByte(); err == nil {
			t.Fatal("dead peer got more data instead of being dropped")
		}
		for i := 0; i < 3; i++ {
			select {
			case <-pings:
			case <-time.After(5 * time.Second):
				t.Fatalf("live client got %d pings, want 3", i)
			}
		}
		if e.Stats().DeadPeers != 1 {
			t.Fatalf("DeadPeers = %d, want 1", e.Stats().DeadPeers)
		}
	})
}

func TestIdleTimeoutClosesWith4002(t *testing.T) {
	e := startEngine(t, "epoll", func(c *Config) {
		c.IdleTimeout = 200 * time.Millisecond
		c.TickInterval = 10 * time.Millisecond
	})
	c := rawDial(t, e)
	r := rawUpgrade(t, c, "/echo")
	expectClose(t, r, protocol.StatusIdleTimeout)
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Backend: "kqueue"}, "Backend"},
		{Config{Workers: -1}, "Workers"},
		{Config{PingInterval: -time.Second}, "PingInterval"},
		{Config{MaxHeaderBytes: 10}, "MaxHeaderBytes"},
		{Config{MaxFrameBytes: 2 << 20, MaxMessageBytes: 1 << 20}, "MaxFrameBytes"},
		{Config{MaxMemory: -1}, "MaxMemory"},
		{Config{MaxConnsPerIP: -1}, "MaxConnsPerIP"},
		{Config{HandshakeRatePerIP: -0.5}, "HandshakeRatePerIP"},
		{Config{HandshakeRatePerIP: 1, HandshakeBurstPerIP: -1}, "HandshakeBurstPerIP"},
		{Config{IPLimitExempt: []netip.Prefix{{}}}, "IPLimitExempt"},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}

// panickyApp panics on the message "boom".
type panickyApp struct{ Echo }

func (panickyApp) OnMessage(c *Conn, op ws.OpCode, msg []byte) {
	if string(msg) == "boom" {
		panic("application bug")
	}
	c.WriteMessage(op, msg)
}

func TestPanickingAppClosesOnlyItsConnection(t *testing.T) {
	cfg := Config{Addr: "127.0.0.1:0", Loops: 1, Workers: 1, Logger: quietLogger()}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Handle("/echo", panickyApp{})
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	victim, other := gorillaDial(t, e, nil), gorillaDial(t, e, nil)
	victim.WriteMessage(websocket.TextMessage, []byte("boom"))
	_, _, err = victim.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseInternalServerErr {
		t.Fatalf("victim read = %v, want close 1011", err)
	}
	// Same worker, still serving.
	other.WriteMessage(websocket.TextMessage, []byte("still alive"))
	if _, p, err := other.ReadMessage(); err != nil || string(p) != "still alive" {
		t.Fatalf("other conn after a panic: %q %v", p, err)
	}
	if e.Stats().AppPanics != 1 {
		t.Fatalf("AppPanics = %d, want 1", e.Stats().AppPanics)
	}
}

// stampApp records, for each message, when it arrived and when it ran; the
// first message holds the worker up so the second runs late.
type stampApp struct {
	Echo
	gate    chan struct{}
	arrived chan [2]time.Time
}

func (a *stampApp) OnMessage(c *Conn, op ws.OpCode, msg []byte) {
	if string(msg) == "first" {
		<-a.gate
	}
	a.arrived <- [2]time.Time{c.ReceivedAt(), time.Now()}
}

func TestReceivedAtIsArrivalNotHandling(t *testing.T) {
	app := &stampApp{gate: make(chan struct{}), arrived: make(chan [2]time.Time, 2)}
	cfg := Config{Addr: "127.0.0.1:0", Loops: 1, Workers: 1, TickInterval: 10 * time.Millisecond, Logger: quietLogger()}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Handle("/echo", app)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	g := gorillaDial(t, e, nil)
	defer g.Close() // before Shutdown, so the drain does not wait for it
	g.WriteMessage(websocket.TextMessage, []byte("first"))
	g.WriteMessage(websocket.TextMessage, []byte("second"))
	sent := time.Now()
	waitFor(t, "both messages queued", func() bool { return e.Stats().MessagesIn >= 1 })
	time.Sleep(300 * time.Millisecond) // hold the worker: the second message waits
	close(app.gate)
	<-app.arrived
	second := <-app.arrived
	if lag := second[1].Sub(second[0]); lag < 200*time.Millisecond {
		t.Fatalf("ReceivedAt %v is only %v before handling; want the arrival time (~%v earlier)",
			second[0], lag, second[1].Sub(sent))
	}
}
