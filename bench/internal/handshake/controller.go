package handshake

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/harness"
	"github.com/switchboard-chat/switchboard/bench/internal/proc"
	"github.com/switchboard-chat/switchboard/bench/internal/procfs"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// Config is the handshake scenario's flags.
type Config struct {
	ServerBin  string
	ServerArgs string
	Name       string
	Out        string
	Repo       string
	Path       string
	SrcBase    netip.Addr
	Load       Load
	Reps       int
	Timeout    time.Duration
	HealthWait time.Duration
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("handshake", flag.ContinueOnError)
	fs.StringVar(&c.ServerBin, "server-bin", "", "server binary to start (required)")
	fs.StringVar(&c.ServerArgs, "server-args", "serve --echo", "arguments before --addr/--admin-addr, split on spaces")
	fs.StringVar(&c.Name, "name", "", "name of the server in reports (required)")
	fs.StringVar(&c.Out, "out", "", "output path without extension: writes <out>.json, <out>.md, <out>.server.log (required)")
	fs.StringVar(&c.Repo, "repo", ".", "git repository of the server, for the commit in the report")
	fs.StringVar(&c.Path, "path", "/echo", "WebSocket echo path on the server")
	src := fs.String("src-base", "127.0.0.2", "source address of the first worker; the next ones count up")
	fs.IntVar(&c.Load.Concurrency, "concurrency", 16, "connections in flight at once, over all workers")
	fs.Float64Var(&c.Load.Rate, "rate", 0, "open loop: connections/s in total, latency from each one's due time; 0 = closed loop")
	fs.IntVar(&c.Load.Size, "size", 64, "bytes of the one message each connection sends")
	duration := fs.Duration("duration", 5*time.Second, "measured window of each repetition")
	warmup := fs.Duration("warmup", time.Second, "churn before the window, not measured")
	fs.IntVar(&c.Load.Clients, "clients", 2, "worker processes, each with its own source address")
	fs.IntVar(&c.Reps, "reps", 1, "repetitions, each against a freshly started server")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "bound on one connection's cycle")
	fs.DurationVar(&c.HealthWait, "health-timeout", 30*time.Second, "bound on waiting for /healthz after start")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.Load.WarmupSeconds, c.Load.DurationSeconds = warmup.Seconds(), duration.Seconds()
	l := c.Load
	switch {
	case c.ServerBin == "" || c.Name == "" || c.Out == "":
		return c, errors.New("--server-bin, --name and --out are required")
	case l.Clients < 1 || l.Clients > 200:
		return c, errors.New("--clients must be between 1 and 200")
	case l.Concurrency < l.Clients:
		return c, fmt.Errorf("--concurrency %d is less than --clients %d", l.Concurrency, l.Clients)
	case l.Concurrency > 2000*l.Clients:
		return c, errors.New("more than 2000 connections in flight per worker: raise --clients")
	case l.Rate < 0 || l.Size < 0 || l.Size > 1<<20:
		return c, errors.New("--rate must not be negative, --size within 0..1 MiB")
	case *duration <= 0 || *warmup < 0 || c.Reps < 1:
		return c, errors.New("--duration and --reps must be positive, --warmup not negative")
	}
	var err error
	if c.SrcBase, err = netip.ParseAddr(*src); err != nil || !c.SrcBase.Is4() || !c.SrcBase.IsLoopback() {
		return c, fmt.Errorf("--src-base %q must be an IPv4 loopback address", *src)
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
	ctx, stop, log := harness.Start(cfg.Name)
	defer stop()
	setup, err := harness.Prepare(cfg.ServerBin, cfg.Out)
	if err != nil {
		return err
	}
	logFile, err := harness.ServerLog(cfg.Out)
	if err != nil {
		return err
	}
	defer logFile.Close()
	res := &Result{Name: cfg.Name, Load: cfg.Load, Meta: reportfile.NewRunMeta(cfg.Repo, setup.ServerBin, setup.Nofile, harness.Now())}
	res.Meta.SourceAddrs = harness.SourceAddrs(cfg.SrcBase, cfg.Load.Clients)
	failure, err := harness.Repeat(ctx, cfg.Reps, logFile, log, func(i int) error {
		rep, err := runRep(ctx, cfg, res, setup.ServerBin, logFile, log.With("rep", i+1))
		if err != nil {
			rep.Failure = err.Error()
		}
		res.Reps = append(res.Reps, *rep)
		return err
	}, func(i int) {
		rep := res.Reps[i]
		log.Info("repetition measured", "rep", i+1, "conns_per_sec", fmt.Sprintf("%.0f", rep.ConnsPerSec),
			"upgrade_p50_ms", fmt.Sprintf("%.3f", rep.Upgrade.P50), "upgrade_p99_ms", fmt.Sprintf("%.3f", rep.Upgrade.P99),
			"server_cpu_cores", fmt.Sprintf("%.2f", rep.ServerCPUCores))
	})
	res.Meta.Finished = harness.Now()
	if failure != "" {
		res.Failure = failure
	}
	return harness.Conclude(ctx, log, cfg.Out, &res.Failure, err, func() error {
		res.Summarize()
		return reportfile.Write(cfg.Out, res, WriteMarkdown)
	}, func() []any { return []any{"conclusion", conclusion(res)} })
}

// runRep is one repetition: a fresh server, fresh workers, one window. It
// always returns a Rep, filled as far as it got.
func runRep(ctx context.Context, cfg Config, res *Result, serverBin string, logFile *os.File, log *slog.Logger) (*Rep, error) {
	rep := &Rep{}
	var server *proc.Child
	var workers []*workerProc
	defer func() {
		if server != nil {
			_ = server.Stop(5 * time.Second)
		}
		for _, w := range workers {
			w.Quit(command{Op: opQuit})
		}
	}()
	srv, err := harness.StartServer(ctx, log, cfg.Name, serverBin, cfg.ServerArgs, logFile, cfg.Out, cfg.HealthWait)
	if srv != nil {
		server = srv.Child
		if res.Meta.ServerArgs == nil {
			res.Meta.ServerArgs = srv.Args
		}
	}
	if err != nil {
		return rep, err
	}
	res.Meta.NofileServer = sysinfo.ProcNofile(server.Pid())
	admin := target.NewAdmin(srv.AdminAddr)

	l := cfg.Load
	src := cfg.SrcBase
	for i := range l.Clients {
		share := l.Concurrency / l.Clients
		if i < l.Concurrency%l.Clients {
			share++
		}
		wc := workerConfig{src: src.AsSlice(), url: "ws://" + srv.Addr + cfg.Path, concurrency: share,
			rate: l.Rate * float64(share) / float64(l.Concurrency), size: l.Size, timeout: cfg.Timeout,
			warmup: seconds(l.WarmupSeconds), duration: seconds(l.DurationSeconds)}
		w, err := startWorker(wc)
		if err != nil {
			return rep, err
		}
		workers = append(workers, w)
		src = src.Next()
	}
	for _, w := range workers {
		if _, err := w.Expect(ctx, evReady, 30*time.Second); err != nil {
			return rep, err
		}
	}
	start := time.Now().Add(300 * time.Millisecond)
	for _, w := range workers {
		if err := w.Send(command{Op: opGo, StartUnixNano: start.UnixNano()}); err != nil {
			return rep, err
		}
	}
	warmupEnd := start.Add(seconds(l.WarmupSeconds))
	if err := target.Sleep(ctx, time.Until(warmupEnd)); err != nil {
		return rep, err
	}
	pids := []int{server.Pid()}
	for _, w := range workers {
		pids = append(pids, w.Pid())
	}
	win, err := harness.MeasureWindow(ctx, pids, warmupEnd.Add(seconds(l.DurationSeconds)))
	if err != nil {
		return rep, err
	}
	rep.WindowSeconds, rep.ServerCPUSeconds, rep.ClientCPUSeconds = win.Seconds, win.ServerCPU, win.ClientCPU
	rep.OtherCPUCores, rep.StealCores = win.OtherCPUCores, win.StealCores
	if st, err := procfs.ReadStatus(server.Pid()); err == nil {
		rep.ServerRSS = st.VmRSS
	}
	var problems []string
	for _, w := range workers {
		fin, err := w.Expect(ctx, evFinished, cfg.Timeout+30*time.Second)
		if err != nil {
			return rep, err
		}
		rep.Counts.add(fin.Counts)
		if fin.LateStartNS > int64(100*time.Millisecond) {
			problems = append(problems, fmt.Sprintf("%s started %s late", w.Src(), time.Duration(fin.LateStartNS)))
		}
		if rep.UpgradeHist == nil {
			rep.UpgradeHist, rep.CycleHist = fin.Upgrade, fin.Cycle
		} else if fin.Upgrade != nil && fin.Cycle != nil {
			rep.UpgradeHist.Merge(fin.Upgrade)
			rep.CycleHist.Merge(fin.Cycle)
		}
	}
	rep.ConnsPerSec = float64(rep.Completed) / l.DurationSeconds
	if rep.UpgradeHist != nil && rep.UpgradeHist.Count() > 0 {
		rep.Upgrade, rep.Cycle = summary.LatencyOf(rep.UpgradeHist), summary.LatencyOf(rep.CycleHist)
	}
	if rep.Completed > 0 {
		rep.ServerCPUPer1k = rep.ServerCPUSeconds / float64(rep.Completed) * 1000
	}
	if rep.WindowSeconds > 0 {
		rep.ServerCPUCores = rep.ServerCPUSeconds / rep.WindowSeconds
	}
	// Every client has closed: the server must have let go of them all.
	if got, err := admin.WaitConns(ctx, 0, 10*time.Second); err != nil {
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

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
