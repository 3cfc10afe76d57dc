package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/switchboard-chat/switchboard/engine"
)

func TestServeHelpListsEverySetting(t *testing.T) {
	out, err := exec.Command(buildBinary(t), "serve", "--help").Output()
	if err != nil {
		t.Fatalf("serve --help: %v", err)
	}
	fs, _ := serveSettings()
	for _, st := range fs.Settings() {
		name := "--" + st.Name + " " + st.Type
		if st.Name == "jwt-secret" {
			name = "jwt-secret string (environment or file only)"
		}
		def := st.Default
		if def == "" {
			def = `""`
		}
		entry := fmt.Sprintf("  %s\n      %s\n      default: %s   env: %s\n", name, st.Usage, def, st.Env)
		if !strings.Contains(string(out), entry) {
			t.Errorf("serve --help lacks\n%s", entry)
		}
	}
	if len(fs.Settings()) < 30 {
		t.Errorf("only %d settings declared", len(fs.Settings()))
	}
}

func TestConfigurationDocIsCurrent(t *testing.T) {
	page, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := serveSettings()
	if _, changed, err := fs.ReplaceGenerated(page); err != nil || changed {
		t.Fatalf("docs/configuration.md is stale (err %v): run go generate ./cmd/switchboard", err)
	}
}

// TestSettingsPrecedenceEndToEnd runs the binary with one setting in each
// layer and reads the sources back from its settings log line, and the
// effect of one of them from /metrics.
func TestSettingsPrecedenceEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	file := filepath.Join(t.TempDir(), "sb.yaml")
	os.WriteFile(file, []byte("workers: 2\nrate: 5\nmax-conns: 11\nauth: none\n"), 0o600)
	env := []string{"SWITCHBOARD_CONFIG=" + file, "SWITCHBOARD_WORKERS=3", "SWITCHBOARD_MAX_CONNS=7",
		"SWITCHBOARD_JWT_SECRET=" + strings.Repeat("s", 32), "SWITCHBOARD_WROKERS=1"}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--workers", "4", "--log-format", "json")
	cmd.Env = append(os.Environ(), env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	dec := json.NewDecoder(stderr)
	var settings []string
	var unknown, admin string
	for admin == "" {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("server log ended: %v", err)
		}
		switch line["msg"] {
		case "settings":
			for _, s := range line["set"].([]any) {
				settings = append(settings, s.(string))
			}
		case "environment variable names no setting; ignored":
			unknown = line["name"].(string)
		case "admin listening":
			admin = line["addr"].(string)
		}
	}
	go io.Copy(io.Discard, stderr)
	for _, want := range []string{
		"workers=4 (flag --workers)",              // flag beats env and file
		"max-conns=7 (env SWITCHBOARD_MAX_CONNS)", // env beats file
		"rate=5 (file " + file + " line 2)",       // file beats default
		"jwt-secret=(secret) (env SWITCHBOARD_JWT_SECRET)",
		"config=" + file + " (env SWITCHBOARD_CONFIG)",
	} {
		if !slices.Contains(settings, want) {
			t.Errorf("settings log %q lacks %q", settings, want)
		}
	}
	if strings.Contains(strings.Join(settings, " "), "ssss") {
		t.Error("the secret was logged")
	}
	if unknown != "SWITCHBOARD_WROKERS" {
		t.Errorf("unknown variable warning named %q, want SWITCHBOARD_WROKERS", unknown)
	}
	fams := scrape(t, admin)
	if v := fams["switchboard_connections_max"].GetMetric()[0].GetGauge().GetValue(); v != 7 {
		t.Errorf("switchboard_connections_max = %v, want 7 (from the environment)", v)
	}
	if n := len(fams["switchboard_worker_busy_seconds_total"].GetMetric()); n != 4 {
		t.Errorf("%d workers exported, want 4 (from the flag)", n)
	}
}

func TestServeConfigFileErrorsNameTheLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sb.yaml")
	os.WriteFile(file, []byte("auth: none\nping_interval: 3s\nworkers: -1\n"), 0o600)
	out, err := exec.Command(buildBinary(t), "serve", "--config", file, "--admin-addr", "").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("serve with a bad file: %v, want a non-zero exit", err)
	}
	for _, want := range []string{
		"config file " + file + ` line 2: unknown setting "ping_interval" (did you mean "ping-interval"?)`,
		"--workers (file " + file + " line 3): must not be negative, got -1",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

// scrape fetches /metrics from the admin address and parses it with the
// Prometheus text parser.
func scrape(t *testing.T, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

func value(f *dto.MetricFamily, labels map[string]string) float64 {
	for _, m := range f.GetMetric() {
		match := true
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// chatSession connects to /ws as user, creates and joins room, publishes
// n messages and reads their acks and deliveries.
func chatSession(t *testing.T, addr, user, room string, n int) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?user="+user, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	want := func(typ string) map[string]any {
		t.Helper()
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("waiting for %s: %v", typ, err)
			}
			var f map[string]any
			json.Unmarshal(p, &f)
			if f["type"] == typ {
				return f
			}
		}
	}
	want("welcome")
	c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":"create","room":%q}`, room)))
	want("created")
	c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":"join","room":%q}`, room)))
	want("joined")
	for i := range n {
		c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":"publish","room":%q,"id":"m%d","body":%d}`, room, i, i)))
		want("ack")
		want("message")
	}
	return c
}

var (
	metricNameRE = regexp.MustCompile(`\b(switchboard_[a-z0-9_]+|go_[a-z0-9_]+|process_[a-z0-9_]+)\b`)
	recordRuleRE = regexp.MustCompile(`\bswitchboard:[a-z0-9_:]+\b`)
)

// exported reports whether name (a series name, maybe with a histogram
// suffix) is a family in fams.
func exported(fams map[string]*dto.MetricFamily, name string) bool {
	if fams[name] != nil {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && fams[base] != nil && fams[base].GetType() == dto.MetricType_HISTOGRAM {
			return true
		}
	}
	return false
}

// TestMetricsMatchDocsRulesAndDashboard scrapes a server that has served
// chat traffic and checks docs/metrics.md, the alert rules and the Grafana
// dashboard against what it exports; and that chat traffic logs nothing
// per message at info level.
func TestMetricsMatchDocsRulesAndDashboard(t *testing.T) {
	s := runServe(t, buildBinary(t), nil, "--auth", "none", "--log-level", "info")
	for range len(s.logs) {
		<-s.logs
	}
	const published = 20
	alice := chatSession(t, s.addr, "alice", "general", published)
	// A store error (not_found), answered with an error frame.
	alice.WriteMessage(websocket.TextMessage, []byte(`{"type":"join","room":"missing"}`))
	if _, p, err := alice.ReadMessage(); err != nil || !strings.Contains(string(p), `"not_found"`) {
		t.Fatalf("join of a missing room: %q %v", p, err)
	}
	if resp, err := http.Get("http://" + s.addr + "/nope"); err == nil { // a 404 handshake failure
		resp.Body.Close()
	}
	fams := scrape(t, s.admin)

	for name, want := range map[string]float64{
		"switchboard_messages_published_total": published,
		"switchboard_publish_ack_seconds":      published,
		"switchboard_ready":                    1,
		"switchboard_draining":                 0,
	} {
		if got := value(fams[name], nil); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for name, labels := range map[string]map[string]string{
		"switchboard_store_duration_seconds":   {"op": "append"},
		"switchboard_fanout_deliveries_total":  nil,
		"switchboard_messages_received_total":  nil,
		"switchboard_messages_sent_total":      nil,
		"switchboard_handshake_failures_total": {"reason": "not_found"},
		"switchboard_store_errors_total":       {"op": "get_room", "kind": "not_found"},
		"switchboard_health_check_up":          {"check": "store"},
		"switchboard_connections":              {"state": "open"},
	} {
		if got := value(fams[name], labels); got < 1 {
			t.Errorf("%s%v = %v, want at least 1", name, labels, got)
		}
	}

	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, name := range metricNameRE.FindAllString(string(doc), -1) {
		documented[name] = true
		if !exported(fams, name) {
			t.Errorf("docs/metrics.md names %s, which the server does not export", name)
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "switchboard_") && !documented[name] {
			t.Errorf("%s is exported but not in docs/metrics.md", name)
		}
	}

	// Rules: every rule has an expression over exported metrics or
	// recorded series defined in the file.
	raw, err := os.ReadFile("../../docs/monitoring/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct{ Record, Alert, Expr, For string }
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(false)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("rules.yml: %v", err)
	}
	recorded := map[string]bool{}
	var exprs []string
	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if (r.Record == "") == (r.Alert == "") || r.Expr == "" {
				t.Errorf("group %s: rule %+v needs an expr and exactly one of record, alert", g.Name, r)
			}
			if r.Record != "" {
				recorded[r.Record] = true
			} else {
				alerts++
			}
			if _, err := time.ParseDuration(strings.TrimSpace(r.For)); r.For != "" && err != nil {
				t.Errorf("rule %s: for %q: %v", r.Alert, r.For, err)
			}
			exprs = append(exprs, r.Expr)
		}
	}
	if alerts < 5 {
		t.Errorf("%d alerts in rules.yml", alerts)
	}

	// Dashboard: valid JSON, every panel query over exported metrics.
	raw, err = os.ReadFile("../../docs/monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if len(dash.Panels) < 10 {
		t.Errorf("dashboard has %d panels", len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, e := range exprs {
		if strings.Count(e, "(") != strings.Count(e, ")") || strings.Count(e, "{") != strings.Count(e, "}") {
			t.Errorf("unbalanced expression %q", e)
		}
		names := metricNameRE.FindAllString(e, -1)
		for _, r := range recordRuleRE.FindAllString(e, -1) {
			if !recorded[r] {
				t.Errorf("%q uses %s, which no rule records", e, r)
			}
			names = append(names, r)
		}
		if len(names) == 0 && !strings.Contains(e, "up{") {
			t.Errorf("%q names no metric", e)
		}
		for _, n := range metricNameRE.FindAllString(e, -1) {
			if !exported(fams, n) {
				t.Errorf("%q uses %s, which the server does not export", e, n)
			}
		}
	}

	// Nothing at info per message: 20 publishes, 40 frames out.
	var logged []string
	for range len(s.logs) {
		logged = append(logged, <-s.logs)
	}
	if len(logged) > 3 {
		t.Errorf("chat traffic logged %d lines at info:\n%s", len(logged), strings.Join(logged, "\n"))
	}
}

// TestSIGTERMDrains: /readyz fails as soon as draining starts, chat clients
// get goaway then close 1001 with the same delay, and the process exits 0.
func TestSIGTERMDrains(t *testing.T) {
	s := runServe(t, buildBinary(t), nil, "--auth", "none", "--reconnect-window", "2s", "--shutdown-timeout", "10s")
	readyz := func() int {
		resp, err := http.Get("http://" + s.admin + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := readyz(); code != 200 {
		t.Fatalf("/readyz = %d before shutdown, want 200", code)
	}
	alice := chatSession(t, s.addr, "alice", "r", 1)
	// A client that never reads holds the drain open (the server waits
	// for its close answer), so /readyz can be seen failing meanwhile.
	stuck, _, err := websocket.DefaultDialer.Dial("ws://"+s.addr+"/ws?user=stuck", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()

	s.cmd.Process.Signal(syscall.SIGTERM)
	_, p, err := alice.ReadMessage()
	var g struct {
		Type             string
		ReconnectAfterMS *int64 `json:"reconnect_after_ms"`
	}
	if err != nil || json.Unmarshal(p, &g) != nil || g.Type != "goaway" || g.ReconnectAfterMS == nil ||
		*g.ReconnectAfterMS < 0 || *g.ReconnectAfterMS >= 2000 {
		t.Fatalf("after SIGTERM got %q, %v; want goaway with reconnect_after_ms in [0, 2000)", p, err)
	}
	_, _, err = alice.ReadMessage()
	var ce *websocket.CloseError
	want := engine.GoingAwayReason(time.Duration(*g.ReconnectAfterMS) * time.Millisecond)
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != want {
		t.Fatalf("then %v, want close 1001 %q", err, want)
	}
	deadline := time.Now().Add(5 * time.Second)
	for readyz() != 503 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not fail while draining")
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitExit0(t, s.cmd)
}
