package handshake

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Config is the handshake scenario's flags.
type Config struct {
	runner.Flags
	runner.Timing
	Load    Load
	Timeout time.Duration // bound on one connection's cycle
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("handshake", flag.ContinueOnError)
	c.Flags.Register(fs, runner.FlagDefaults{ServerArgs: "serve --echo", Path: "/echo", PathHelp: "WebSocket echo path on the server", Clients: 2})
	c.Timing.Register(fs, 5*time.Second, time.Second, "churn before the window, not measured")
	fs.IntVar(&c.Load.Concurrency, "concurrency", 16, "connections in flight at once, over all workers")
	fs.Float64Var(&c.Load.Rate, "rate", 0, "open loop: connections/s in total, latency from each one's due time; 0 = closed loop")
	fs.IntVar(&c.Load.Size, "size", 64, "bytes of the one message each connection sends")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "bound on one connection's cycle")
	if err := runner.Parse(fs, args, &c.Flags, &c.Timing); err != nil {
		return c, err
	}
	c.Load.Clients, c.Load.WarmupSeconds, c.Load.DurationSeconds = c.Clients, c.Warmup.Seconds(), c.Duration.Seconds()
	l := c.Load
	switch {
	case l.Concurrency < l.Clients:
		return c, fmt.Errorf("--concurrency %d is less than --clients %d", l.Concurrency, l.Clients)
	case l.Concurrency > 2000*l.Clients:
		return c, errors.New("more than 2000 connections in flight per worker: raise --clients")
	case l.Rate < 0 || l.Size < 0 || l.Size > 1<<20:
		return c, errors.New("--rate must not be negative, --size within 0..1 MiB")
	}
	return c, nil
}

// Run is `swload handshake`. It writes the reports even when a repetition
// fails, and returns an error in that case.
func Run(args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	return runner.Scenario[Load, Rep, Summary, *report]{
		Flags: cfg.Flags, Timing: cfg.Timing, Load: cfg.Load,
		Rep: cfg.rep,
		Measured: func(rep Rep) []any {
			return []any{"conns_per_sec", fmt.Sprintf("%.0f", rep.ConnsPerSec),
				"upgrade_p50_ms", fmt.Sprintf("%.3f", rep.Upgrade.P50), "upgrade_p99_ms", fmt.Sprintf("%.3f", rep.Upgrade.P99),
				"server_cpu_cores", fmt.Sprintf("%.2f", rep.ServerCPUCores)}
		},
		Summarize: summarize, Markdown: WriteMarkdown, Conclusion: conclusion,
	}.Run()
}

// rep is one repetition in s: the workers churn through one window, then
// the server must let go of every connection. It returns the Rep as far
// as it got.
func (c Config) rep(ctx context.Context, s *runner.Session[*report]) (Rep, error) {
	var rep Rep
	l := c.Load
	err := s.StartWorkers("handshake-worker", func(i int, src net.IP) ([]string, bool) {
		share := runner.Share(l.Concurrency, l.Clients, i)
		return workerConfig{WorkerFlags: runner.WorkerFlags{Src: src, URL: s.URL}, concurrency: share,
			rate: l.Rate * float64(share) / float64(l.Concurrency), size: l.Size, timeout: c.Timeout,
			warmup: c.Warmup, duration: c.Duration}.args(), true
	})
	if err != nil {
		return rep, err
	}
	if err := s.AwaitReady(ctx, 30*time.Second, nil); err != nil {
		return rep, err
	}
	m, err := s.Measure(ctx, c.Warmup, c.Duration)
	if err != nil {
		return rep, err
	}
	rep.ServerCPUSeconds, rep.Usage = m.ServerCPU, m.Usage()
	problems, err := s.Finish(ctx, c.Timeout+30*time.Second, func(fin *report) {
		rep.Counts.add(fin.Counts)
		if rep.UpgradeHist == nil {
			rep.UpgradeHist, rep.CycleHist = fin.Upgrade, fin.Cycle
		} else if fin.Upgrade != nil && fin.Cycle != nil {
			rep.UpgradeHist.Merge(fin.Upgrade)
			rep.CycleHist.Merge(fin.Cycle)
		}
	})
	if err != nil {
		return rep, err
	}
	rep.ConnsPerSec = float64(rep.Completed) / l.DurationSeconds
	if rep.UpgradeHist != nil && rep.UpgradeHist.Count() > 0 {
		rep.Upgrade, rep.Cycle = summary.LatencyOf(rep.UpgradeHist), summary.LatencyOf(rep.CycleHist)
	}
	if rep.Completed > 0 {
		rep.ServerCPUPer1k = rep.ServerCPUSeconds / float64(rep.Completed) * 1000
	}
	// Every client has closed: the server must have let go of them all.
	if got, err := s.Admin.WaitConns(ctx, 0, 10*time.Second); err != nil {
		rep.LeftOpen = got
		problems = append(problems, fmt.Sprintf("the server still counts %d connections after every client closed", got))
	}
	errs := rep.DialErrors + rep.EchoErrors + rep.WrongSize
	switch {
	case rep.Completed == 0:
		return rep, fmt.Errorf("no connection completed in the window (last error: %s)", rep.LastError)
	case errs*100 > rep.CompletedTotal:
		// An occasional failed dial under churn is a result; more than
		// 1% means the server (or the kernel) refused the load.
		return rep, fmt.Errorf("%d dial, %d echo errors and %d wrong sizes in %d connections (last: %s)",
			rep.DialErrors, rep.EchoErrors, rep.WrongSize, rep.CompletedTotal, rep.LastError)
	case len(problems) > 0:
		return rep, errors.New(strings.Join(problems, "; "))
	}
	return rep, nil
}
