package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/room"
	"github.com/switchboard-chat/switchboard/store/memory"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait"),
		goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait.func1"),
		// net/http's idle keep-alive connections.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

type chatServer struct {
	addr string
	st   *memory.Store
	e    *engine.Engine
	svc  *room.Service
	site *Site
}

// startChatServer runs what `serve` runs: the engine, the chat service on
// the memory store, and this package's pages, on a free loopback port.
func startChatServer(t testing.TB, authMode string, mutate ...func(*Options, *room.Config)) *chatServer {
	t.Helper()
	st, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return startChatServerOn(t, "127.0.0.1:0", st, authMode, mutate...)
}

// startChatServerOn is startChatServer at a given address with a given
// store: a restarted instance that finds its history where it was.
func startChatServerOn(t testing.TB, addr string, st *memory.Store, authMode string,
	mutate ...func(*Options, *room.Config)) *chatServer {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := engine.New(engine.Config{Addr: addr, Loops: 2, Workers: 4, Logger: quiet,
		Subprotocols: []string{"switchboard.v1"}, ReconnectWindow: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Engine: e, Auth: authMode}
	rcfg := room.Config{Store: st, Logger: quiet}
	for _, m := range mutate {
		m(&opts, &rcfg)
	}
	svc, err := room.New(e, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Handle("/ws", svc)
	opts.Chat = svc.Stats
	site, err := Register(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
		site.Close()
		svc.Close()
	})
	return &chatServer{addr: e.Addr().String(), st: st, e: e, svc: svc, site: site}
}

func get(t *testing.T, method, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestPagesAreServed(t *testing.T) {
	srv := startChatServer(t, "none")
	base := "http://" + srv.addr
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/app.js">`},
		{"/app.js", "text/javascript; charset=utf-8", "docs/protocol.md"},
		{"/style.css", "text/css; charset=utf-8", "#message-list"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
		{"/dashboard", "text/html; charset=utf-8", `src="/dashboard.js"`},
		{"/dashboard.js", "text/javascript; charset=utf-8", "/dashboard/stats"},
		{"/dashboard.css", "text/css; charset=utf-8", ".tile"},
		{"/config.json", "application/json", `"auth":"none"`},
	} {
		resp, body := get(t, "GET", base+tc.path, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.contentType || !strings.Contains(body, tc.contains) {
			t.Fatalf("GET %s: %d %q, body has %q: %v", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"),
				tc.contains, strings.Contains(body, tc.contains))
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Fatalf("GET %s: no Content-Security-Policy", tc.path)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("GET %s: ETag %q, Cache-Control %q", tc.path, etag, resp.Header.Get("Cache-Control"))
		}
		again, body := get(t, "GET", base+tc.path, map[string]string{"If-None-Match": etag})
		if again.StatusCode != 304 || body != "" {
			t.Fatalf("GET %s with If-None-Match: %d, %d bytes", tc.path, again.StatusCode, len(body))
		}
	}
	if resp, _ := get(t, "POST", base+"/", nil); resp.StatusCode != 405 {
		t.Fatalf("POST /: %d, want 405", resp.StatusCode)
	}
	if resp, _ := get(t, "GET", base+"/index.html", nil); resp.StatusCode != 404 {
		t.Fatalf("GET /index.html: %d, want 404 (the page is at /)", resp.StatusCode)
	}
}

func TestDashboardStatsAndSwitch(t *testing.T) {
	srv := startChatServer(t, "jwt")
	resp, body := get(t, "GET", "http://"+srv.addr+"/dashboard/stats", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("stats: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("stats are not JSON: %v\n%s", err, body)
	}
	if !st.Chat || st.RSSBytes == 0 || st.GoHeapBytes == 0 || st.Goroutines == 0 || len(st.History.Connections) == 0 {
		t.Fatalf("stats lack numbers: %s", body)
	}
	if _, cfg := get(t, "GET", "http://"+srv.addr+"/config.json", nil); !strings.Contains(cfg, `"auth":"jwt"`) {
		t.Fatalf("config %s", cfg)
	}

	off := startChatServer(t, "none", func(o *Options, _ *room.Config) { o.NoDashboard = true })
	for _, path := range []string{"/dashboard", "/dashboard/stats", "/dashboard.js"} {
		if resp, _ := get(t, "GET", "http://"+off.addr+path, nil); resp.StatusCode != 404 {
			t.Fatalf("dashboard off: GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := get(t, "GET", "http://"+off.addr+"/", nil); resp.StatusCode != 200 {
		t.Fatalf("dashboard off: the chat page answers %d", resp.StatusCode)
	}
}

func TestRegisterRejectsBadOptions(t *testing.T) {
	e, err := engine.New(engine.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string]Options{
		"no engine":         {},
		"unknown auth":      {Engine: e, Auth: "basic"},
		"negative interval": {Engine: e, Interval: -time.Second},
	} {
		if _, err := Register(opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestSamplerRatesAndWindowedP99 feeds the sampler known counters and
// checks what it derives: per-second rates over the last interval, and
// latency quantiles over the last ten samples only.
func TestSamplerRatesAndWindowedP99(t *testing.T) {
	var es engine.Stats
	// A histogram over three buckets, in seconds: (0, 1ms], (1ms, 500ms], (500ms, 1s].
	cm := room.Stats{AckLatency: room.Histogram{Bounds: []float64{0.001, 0.5, 1}, Counts: make([]uint64, 3)}}
	observe := func(n uint64, bucket int) {
		cm.AckLatency.Counts = slices.Clone(cm.AckLatency.Counts) // snapshots never change
		for i := bucket; i < 3; i++ {
			cm.AckLatency.Counts[i] += n
		}
		cm.AckLatency.Count += n
	}
	s := newSampler(func() engine.Stats { return es }, func() room.Stats { return cm }, time.Second)
	t0 := time.Now()
	decode := func() Stats {
		var st Stats
		if err := json.Unmarshal(*s.latest.Load(), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	observe(1, 1) // one slow ack before the first sample
	es.Conns, es.MessagesIn = 4, 100
	s.tick(t0)
	es.MessagesIn += 500
	cm.Published, cm.Deliveries = 10, 40
	observe(99, 0)
	s.tick(t0.Add(2 * time.Second))
	st := decode()
	if st.MessagesInPerS != 250 || st.DeliveriesPerS != 20 || st.PublishedPerS != 5 {
		t.Fatalf("rates %v msgs/s, %v deliveries/s, %v published/s; want 250, 20, 5",
			st.MessagesInPerS, st.DeliveriesPerS, st.PublishedPerS)
	}
	if st.Connections != 4 || st.HeapPerConn == nil || *st.HeapPerConn != st.GoHeapBytes/4 {
		t.Fatalf("connections %d, heap per conn %v of %d", st.Connections, st.HeapPerConn, st.GoHeapBytes)
	}
	// The window started after the slow ack: 99 fast acks only.
	if st.AcksInWindow != 99 || st.AckP99Ms > 1 {
		t.Fatalf("window: %d acks, p99 %v ms", st.AcksInWindow, st.AckP99Ms)
	}
	// Two more slow acks show at once, then age out after ten samples.
	observe(2, 1)
	s.tick(t0.Add(3 * time.Second))
	if st := decode(); st.AckP99Ms < 1 || st.AcksInWindow != 101 {
		t.Fatalf("after slow acks: p99 %v ms over %d acks, want over 1 ms", st.AckP99Ms, st.AcksInWindow)
	}
	for i := range latencyWindow {
		s.tick(t0.Add(time.Duration(4+i) * time.Second))
	}
	if st := decode(); st.AcksInWindow != 0 || st.AckP99Ms != 0 {
		t.Fatalf("quiet window: %d acks, p99 %v", st.AcksInWindow, st.AckP99Ms)
	}
	for i := range 2 * historyLen {
		s.tick(t0.Add(time.Duration(20+i) * time.Second))
	}
	if st := decode(); len(st.History.Connections) != historyLen || len(st.History.AckP99Ms) != historyLen {
		t.Fatalf("history keeps %d samples, want %d", len(st.History.Connections), historyLen)
	}
	es.Conns = 0
	s.tick(t0.Add(time.Hour))
	if st := decode(); st.HeapPerConn != nil {
		t.Fatalf("heap per connection %v without connections, want null", *st.HeapPerConn)
	}
}
