package handshake

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/peer"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/runnertest"
)

// startPeer serves the gobwas peer in-process and returns its echo URL.
func startPeer(t *testing.T) (string, *peer.App) {
	t.Helper()
	addr, app := runnertest.Peer(t, peer.Gobwas)
	return "ws://" + addr + "/echo", app
}

func TestChurnClosedAndOpenLoop(t *testing.T) {
	url, app := startPeer(t)
	for _, rate := range []float64{0, 200} {
		cfg, err := parseWorkerConfig([]string{"--url", url, "--concurrency", "4", "--rate", fmt.Sprint(rate),
			"--size", "100", "--warmup", "100ms", "--duration", "500ms"})
		if err != nil {
			t.Fatal(err)
		}
		rep := churn(cfg, time.Now())
		c := rep.Counts
		if c.Completed == 0 || c.DialErrors != 0 || c.EchoErrors != 0 || c.WrongSize != 0 {
			t.Fatalf("rate %g: counts %+v", rate, c)
		}
		if rep.Upgrade.Count() != c.Completed || rep.Cycle.Count() != c.Completed {
			t.Fatalf("rate %g: histograms hold %d and %d of %d", rate, rep.Upgrade.Count(), rep.Cycle.Count(), c.Completed)
		}
		if rep.Upgrade.Quantile(0.5) > rep.Cycle.Quantile(0.5) {
			t.Errorf("rate %g: upgrade p50 %d ns is past the whole cycle's %d", rate, rep.Upgrade.Quantile(0.5), rep.Cycle.Quantile(0.5))
		}
		if rate > 0 && (c.CompletedTotal+c.Missed < 110 || c.CompletedTotal > 121) {
			// 200/s over 600 ms: 120 due.
			t.Errorf("open loop at 200/s for 600 ms: %d completed, %d missed", c.CompletedTotal, c.Missed)
		}
	}
	// Every cycle ends with a close handshake: the server holds nothing.
	deadline := time.Now().Add(5 * time.Second)
	for app.Conns.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the count drops on the server's goroutines
	}
	if n := app.Conns.Load(); n != 0 {
		t.Errorf("server still holds %d connections", n)
	}
}

func TestChurnAgainstNothing(t *testing.T) {
	cfg, err := parseWorkerConfig([]string{"--url", "ws://127.0.0.1:1/echo", "--concurrency", "2", "--warmup", "0s", "--duration", "200ms"})
	if err != nil {
		t.Fatal(err)
	}
	rep := churn(cfg, time.Now())
	if rep.Completed != 0 || rep.DialErrors == 0 || !strings.Contains(rep.LastError, "dial") {
		t.Errorf("against a closed port: %+v", rep.Counts)
	}
}

func TestSummarizeAndReport(t *testing.T) {
	r := &Result{Name: "sb", Load: Load{Concurrency: 8, Size: 64, DurationSeconds: 2, Clients: 2}, Reps: []Rep{
		{ConnsPerSec: 1000, ServerCPUPer1k: 0.3},
		{ConnsPerSec: 1200, ServerCPUPer1k: 0.2, Usage: runner.Usage{OtherCPUCores: 0.5}},
		{Failure: "boom", Counts: Counts{DialErrors: 3}},
	}}
	r.Summary = summarize(r.Reps)
	if r.Summary.Reps != 2 || r.Summary.ConnsPerSec.Median != 1100 || r.Summary.NoisyReps != 1 || r.Summary.Errors != 3 {
		t.Fatalf("summary %+v", r.Summary)
	}
	var md strings.Builder
	WriteMarkdown(&md, r)
	for _, want := range []string{"completed 1,100 connections/s", "NOISY", "FAILED: boom", "closed loop, 8 connections in flight"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if _, err := parseConfig([]string{"--server-bin", "x", "--name", "n", "--out", "o", "--concurrency", "1", "--clients", "2"}); err == nil {
		t.Error("fewer connections in flight than workers was accepted")
	}
}
