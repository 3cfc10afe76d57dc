package echo

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

// Config is the echo scenario's flags.
type Config struct {
	runner.Flags
	runner.Timing
	runner.Dialing
	Load     Load
	DialWait time.Duration // bound on the workers connecting
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	c.Flags.Register(fs, runner.FlagDefaults{ServerArgs: "serve --echo", Path: "/echo", Clients: 2})
	c.Timing.Register(fs, 10*time.Second, 2*time.Second, "load before the window, not measured")
	c.Dialing.Register(fs)
	fs.IntVar(&c.Load.Conns, "conns", 100, "connections in total")
	fs.IntVar(&c.Load.Size, "size", 64, "message payload bytes (binary frames)")
	fs.IntVar(&c.Load.Inflight, "inflight", 1, "closed loop: messages each connection keeps in flight")
	fs.Float64Var(&c.Load.Rate, "rate", 0, "open loop: messages/s in total, latency counted from each message's due time; 0 = closed loop")
	fs.IntVar(&c.Load.Loops, "loops", 1, "event loops (goroutines) per worker")
	fs.DurationVar(&c.DialWait, "dial-timeout", 2*time.Minute, "bound on the workers connecting")
	if err := runner.Parse(fs, args, &c.Flags, &c.Timing, &c.Dialing); err != nil {
		return c, err
	}
	c.Load.Clients, c.Load.WarmupSeconds, c.Load.DurationSeconds = c.Clients, c.Warmup.Seconds(), c.Duration.Seconds()
	l := c.Load
	switch {
	case l.Conns < 1:
		return c, errors.New("--conns must be at least 1")
	case l.Size < 0 || l.Size > 1<<20:
		return c, errors.New("--size must be between 0 and 1 MiB")
	case l.Inflight < 1:
		return c, errors.New("--inflight must be at least 1")
	case l.Rate < 0:
		return c, errors.New("--rate must not be negative")
	case l.Clients > l.Conns:
		return c, fmt.Errorf("--clients %d is more than --conns %d", l.Clients, l.Conns)
	case l.Loops < 1:
		return c, errors.New("--loops must be at least 1")
	}
	if most := (l.Conns + l.Clients - 1) / l.Clients; most > c.MaxPerClient {
		return c, fmt.Errorf("%d connections on one worker is over --max-per-client %d; raise --clients", most, c.MaxPerClient)
	}
	if l.Rate > 0 {
		c.Load.Inflight = 0 // open loop: in flight is whatever the server leaves unanswered
	}
	return c, nil
}

// Run is `swload echo`. It writes the reports even when a repetition fails,
// and returns an error in that case.
func Run(args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	return runner.Scenario[Load, Rep, Summary, *report]{
		Flags: cfg.Flags, Timing: cfg.Timing, Load: cfg.Load,
		Rep: cfg.rep,
		Measured: func(rep Rep) []any {
			return []any{"msgs_per_sec", fmt.Sprintf("%.0f", rep.MsgsPerSec),
				"p50_ms", fmt.Sprintf("%.3f", rep.Latency.P50), "p99_ms", fmt.Sprintf("%.3f", rep.Latency.P99),
				"server_cpu_cores", fmt.Sprintf("%.2f", rep.ServerCPUCores),
				"server_cpu_s_per_1m", fmt.Sprintf("%.2f", rep.ServerCPUPerMillion), "rss_mib", mib(rep.ServerRSS)}
		},
		Summarize: summarize, Markdown: WriteMarkdown, Conclusion: conclusion,
	}.Run()
}

// rep is one repetition in s: the workers dial their share, the server
// must count every connection, then one window. It returns the Rep as far
// as it got.
func (c Config) rep(ctx context.Context, s *runner.Session[*report]) (Rep, error) {
	var rep Rep
	l := c.Load
	// The connections and the open-loop rate split evenly.
	err := s.StartWorkers("echo-worker", func(i int, src net.IP) ([]string, bool) {
		share := runner.Share(l.Conns, l.Clients, i)
		return workerConfig{WorkerFlags: runner.WorkerFlags{Src: src, URL: s.URL}, dial: runner.WorkerDialing{Concurrency: c.Concurrency},
			conns: share, size: l.Size, inflight: max(l.Inflight, 1), rate: l.Rate * float64(share) / float64(l.Conns),
			warmup: c.Warmup, duration: c.Duration, loops: l.Loops}.args(), true
	})
	if err != nil {
		return rep, err
	}
	var problems []string
	err = s.AwaitReady(ctx, c.DialWait, func(src string, rd *report) {
		rep.Conns += rd.Conns
		rep.DialErrors += rd.DialErrors
		if rd.LastError != "" {
			problems = append(problems, fmt.Sprintf("%s connected %d (%d dial errors, last: %s)", src, rd.Conns, rd.DialErrors, rd.LastError))
		}
	})
	if err != nil {
		return rep, err
	}
	if rep.Conns != l.Conns {
		return rep, fmt.Errorf("connected %d of %d: %s", rep.Conns, l.Conns, strings.Join(problems, "; "))
	}
	if got, err := s.Admin.WaitConns(ctx, int64(l.Conns), 30*time.Second); err != nil {
		return rep, fmt.Errorf("the clients hold %d connections but the server reports %d: %w", rep.Conns, got, err)
	}

	m, err := s.Measure(ctx, c.Warmup, c.Duration)
	if err != nil {
		return rep, err
	}
	rep.ServerCPUSeconds, rep.Usage = m.ServerCPU, m.Usage()
	rep.ServerHWM, rep.ServerThreads = m.Server.VmHWM, m.Server.Threads

	var merged report
	late, err := s.Finish(ctx, 30*time.Second, func(fin *report) {
		merged.Sent += fin.Sent
		merged.Received += fin.Received
		merged.ReceivedTotal += fin.ReceivedTotal
		merged.Outstanding += fin.Outstanding
		merged.WrongSize += fin.WrongSize
		merged.ConnsLost += fin.ConnsLost
		merged.MaxSendLagNS = max(merged.MaxSendLagNS, fin.MaxSendLagNS)
		if fin.LastConnError != "" {
			merged.LastConnError = fin.LastConnError
		}
		if rep.Hist == nil {
			rep.Hist = fin.Hist
		} else if fin.Hist != nil {
			rep.Hist.Merge(fin.Hist)
		}
	})
	if err != nil {
		return rep, err
	}
	problems = append(problems, late...)
	if st, err := s.Admin.Stats(ctx); err == nil {
		rep.ServerGoroutines = st.Goroutines
	}
	rep.Sent, rep.Received, rep.ReceivedTotal = merged.Sent, merged.Received, merged.ReceivedTotal
	rep.Outstanding, rep.WrongSize, rep.ConnsLost = merged.Outstanding, merged.WrongSize, merged.ConnsLost
	rep.MaxSendLagMS = float64(merged.MaxSendLagNS) / 1e6
	rep.MsgsPerSec = float64(rep.Received) / l.DurationSeconds
	if rep.Hist != nil {
		rep.Latency = summary.LatencyOf(rep.Hist)
	}
	rep.ServerCPUPerMillion = cpuPerMillion(rep.ServerCPUSeconds, rep.Received)
	switch {
	case rep.ConnsLost > 0:
		return rep, fmt.Errorf("%d connections lost during the run (last: %s)", rep.ConnsLost, merged.LastConnError)
	case rep.WrongSize > 0:
		return rep, fmt.Errorf("%d echoes of the wrong size", rep.WrongSize)
	case rep.Received == 0:
		return rep, errors.New("no echo received in the measured window")
	case len(problems) > 0:
		return rep, errors.New(strings.Join(problems, "; "))
	}
	return rep, nil
}

func mib(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
