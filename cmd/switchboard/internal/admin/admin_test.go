package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/room"
	"github.com/switchboard-chat/switchboard/store/instrumented"
	"github.com/switchboard-chat/switchboard/store/memory"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait"),
		goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait.func1"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

type stack struct {
	e   *engine.Engine
	st  *memory.Store
	adm *Server
	url string
}

// startStack runs an engine with the chat service on a memory store, and
// an admin listener over them, wired as serve wires them.
func startStack(t *testing.T) *stack {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := engine.New(engine.Config{Addr: "127.0.0.1:0", Loops: 1, Workers: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	adm := New(Config{Addr: "127.0.0.1:0", Logger: quiet})
	st, err := instrumented.New(mem, adm.Registry())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := room.New(e, room.Config{Store: st, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e.Handle("/ws", svc)
	adm.Registry().MustRegister(NewEngineCollector(e, 100), NewRoomCollector(svc))
	adm.AddCheck("store", st.Health)
	adm.Handle("GET /debug/stats", DebugStats(e))
	adm.Handle("POST /debug/gc", DebugGC())
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	if err := adm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
		adm.Close()
		http.DefaultClient.CloseIdleConnections()
		svc.Close()
	})
	return &stack{e: e, st: mem, adm: adm, url: "http://" + adm.Addr().String()}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func metrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

func gauge(f map[string]*dto.MetricFamily, name, label, value string) float64 {
	for _, m := range f[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == value {
				return m.GetGauge().GetValue()
			}
		}
		if label == "" {
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

func TestReadyzFailsWhenTheStoreFails(t *testing.T) {
	s := startStack(t)
	if code, body := get(t, s.url+"/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz = %d %q, want 200 ready", code, body)
	}
	if f := metrics(t, s.url); gauge(f, "switchboard_ready", "", "") != 1 || gauge(f, "switchboard_health_check_up", "check", "store") != 1 {
		t.Fatal("metrics do not say ready")
	}
	s.st.Close() // a real failure: the memory store refuses every call from now on
	code, body := get(t, s.url+"/readyz")
	if code != 503 || !strings.HasPrefix(body, "store: ") || !strings.Contains(body, "unavailable") {
		t.Fatalf("/readyz with a closed store = %d %q, want 503 naming the store", code, body)
	}
	if f := metrics(t, s.url); gauge(f, "switchboard_ready", "", "") != 0 || gauge(f, "switchboard_health_check_up", "check", "store") != 0 {
		t.Fatal("metrics still say ready with a closed store")
	}
	if code, _ := get(t, s.url+"/healthz"); code != 200 {
		t.Fatalf("/healthz = %d, want 200: the process is alive", code)
	}
}

func TestReadyzFailsOnceDrainingStarts(t *testing.T) {
	s := startStack(t)
	s.adm.StartDraining() // what serve does on SIGTERM, before the engine drains

	code, body := get(t, s.url+"/readyz")
	if code != 503 || !strings.Contains(body, "draining") {
		t.Fatalf("/readyz while draining = %d %q, want 503 draining", code, body)
	}
	if f := metrics(t, s.url); gauge(f, "switchboard_draining", "", "") != 1 || gauge(f, "switchboard_ready", "", "") != 0 {
		t.Fatal("metrics do not say draining")
	}
	if code, _ := get(t, s.url+"/healthz"); code != 200 {
		t.Fatalf("/healthz while draining = %d, want 200 (alive)", code)
	}
}

func TestChecksArePluggableAndBounded(t *testing.T) {
	s := New(Config{CheckTimeout: 50 * time.Millisecond})
	s.AddCheck("ok", func(context.Context) error { return nil })
	s.AddCheck("hangs", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	err := s.Ready(context.Background())
	if err == nil || !strings.Contains(err.Error(), "hangs: context deadline exceeded") || strings.Contains(err.Error(), "ok:") {
		t.Fatalf("Ready = %v, want only the hanging check, timed out", err)
	}
}

func TestEngineMetricsAndDebugEndpoints(t *testing.T) {
	s := startStack(t)
	c, _, err := websocket.DefaultDialer.Dial("ws://"+s.e.Addr().String()+"/ws?user=alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.ReadMessage(); err != nil { // welcome
		t.Fatal(err)
	}
	f := metrics(t, s.url)
	if gauge(f, "switchboard_connections", "state", "open") != 1 || gauge(f, "switchboard_connections_max", "", "") != 100 {
		t.Errorf("connections: %v", f["switchboard_connections"])
	}
	if n := len(f["switchboard_worker_queue_depth"].GetMetric()); n != 2 {
		t.Errorf("%d worker queue series, want 2", n)
	}
	if f["switchboard_messages_sent_total"].GetMetric()[0].GetCounter().GetValue() < 1 {
		t.Error("the welcome frame is not counted as sent")
	}
	if n := len(f["switchboard_handshake_failures_total"].GetMetric()); n != len(hsReasons)+4 {
		t.Errorf("%d handshake failure reasons exported, want all %d from the start", n, len(hsReasons)+4)
	}
	code, body := get(t, s.url+"/debug/stats")
	var stats struct{ Conns int64 }
	if code != 200 || json.Unmarshal([]byte(body), &stats) != nil || stats.Conns != 1 {
		t.Errorf("/debug/stats = %d %q", code, body)
	}
	resp, err := http.Post(s.url+"/debug/gc", "", nil)
	if err != nil || resp.StatusCode != 204 {
		t.Errorf("POST /debug/gc = %v %v", resp, err)
	}
	resp.Body.Close()
	if code, _ := get(t, s.url+"/debug/pprof/"); code != 200 {
		t.Errorf("/debug/pprof/ = %d", code)
	}
}
