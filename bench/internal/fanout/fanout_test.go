package fanout

import (
	"strings"
	"testing"
)

func TestScanServerFrames(t *testing.T) {
	msg := []byte(`{"type":"message","room":"fan","seq":42,"id":"p0-7","from":"p0","body":{"t":1700000000123456789},"ts":"2026-01-02T03:04:05Z"}`)
	tests := []struct {
		name string
		p    []byte
		typ  string
		key  string
		want uint64
		ok   bool
	}{
		{"message seq", msg, "message", `"seq":`, 42, true},
		{"message t, not ts or type", msg, "message", `"t":`, 1700000000123456789, true},
		{"joined seq", []byte(`{"type":"joined","room":"fan","seq":0,"history":[],"online":3}`), "joined", `"seq":`, 0, true},
		{"missing field", []byte(`{"type":"ack","id":"x"}`), "ack", `"seq":`, 0, false},
		{"not a number", []byte(`{"type":"x","seq":"a"}`), "x", `"seq":`, 0, false},
		{"not a chat frame", []byte(`hello`), "", `"seq":`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(frameType(tt.p)); got != tt.typ {
				t.Errorf("frameType = %q, want %q", got, tt.typ)
			}
			got, ok := intField(tt.p, tt.key)
			if got != tt.want || ok != tt.ok {
				t.Errorf("intField(%s) = %d, %v; want %d, %v", tt.key, got, ok, tt.want, tt.ok)
			}
		})
	}
	if code := stringField([]byte(`{"type":"error","code":"rate_limited","message":"m"}`), `"code":`); code != "rate_limited" {
		t.Errorf("stringField = %q", code)
	}
}

func TestSummarizeAndConclusion(t *testing.T) {
	r := &Result{Name: "sb", Load: Load{Members: 100, Publishers: 1, Rate: 10, DurationSeconds: 10}, Reps: []Rep{
		{DeliveriesPerSec: 1000, Latency: Latency{P50: 1, P99: 2}, Counts: Counts{Published: 120, Acks: 120}, WindowSeconds: 10},
		{DeliveriesPerSec: 990, Latency: Latency{P50: 1, P99: 3}, Counts: Counts{Published: 120, Acks: 120}, WindowSeconds: 10},
		{Failure: "boom", Counts: Counts{Published: 5, Gaps: 1}},
	}}
	r.Summarize()
	s := r.Summary
	if s.Reps != 2 || s.DeliveriesPerSec.Median != 995 || s.Published != 245 || s.Gaps != 1 {
		t.Fatalf("summary = %+v", s)
	}
	if !sustained(r) || strings.Contains(conclusion(r), "OVERLOADED") {
		t.Fatalf("a run at 99%% of the asked load should count as kept up: %s", conclusion(r))
	}
	r.Reps[1].DeliveriesPerSec = 500
	r.Summarize()
	if sustained(r) || !strings.Contains(conclusion(r), "OVERLOADED") {
		t.Fatalf("a run at half the asked load should be overloaded: %s", conclusion(r))
	}
}

func TestParseConfigRefusesTooManyPerWorker(t *testing.T) {
	base := []string{"--server-bin", "x", "--name", "n", "--out", "o"}
	if _, err := parseConfig(append(base, "--members", "10000", "--clients", "2")); err == nil {
		t.Fatal("10,000 members on 2 workers was accepted")
	}
	if _, err := parseConfig(append(base, "--members", "10000", "--clients", "4")); err != nil {
		t.Fatal(err)
	}
	if _, err := parseConfig(append(base, "--room", "Bad Room")); err == nil {
		t.Fatal("a bad room id was accepted")
	}
}
