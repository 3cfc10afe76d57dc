package echo

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
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// Config is the echo scenario's flags.
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
	HealthWait time.Duration
	DialWait   time.Duration
	DialConc   int
	MaxPerProc int
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.StringVar(&c.ServerBin, "server-bin", "", "server binary to start (required)")
	fs.StringVar(&c.ServerArgs, "server-args", "serve --echo", "arguments before --addr/--admin-addr, split on spaces")
	fs.StringVar(&c.Name, "name", "", "name of the server in reports (required)")
	fs.StringVar(&c.Out, "out", "", "output path without extension: writes <out>.json, <out>.md, <out>.server.log (required)")
	fs.StringVar(&c.Repo, "repo", ".", "git repository of the server, for the commit in the report")
	fs.StringVar(&c.Path, "path", "/echo", "WebSocket path on the server")
	src := fs.String("src-base", "127.0.0.2", "source address of the first worker; the next ones count up")
	fs.IntVar(&c.Load.Conns, "conns", 100, "connections in total")
	fs.IntVar(&c.Load.Size, "size", 64, "message payload bytes (binary frames)")
	fs.IntVar(&c.Load.Inflight, "inflight", 1, "closed loop: messages each connection keeps in flight")
	fs.Float64Var(&c.Load.Rate, "rate", 0, "open loop: messages/s in total, latency counted from each message's due time; 0 = closed loop")
	duration := fs.Duration("duration", 10*time.Second, "measured window of each repetition")
	warmup := fs.Duration("warmup", 2*time.Second, "load before the window, not measured")
	fs.IntVar(&c.Load.Clients, "clients", 2, "worker processes, each with its own source address")
	fs.IntVar(&c.Load.Loops, "loops", 1, "event loops (goroutines) per worker")
	fs.IntVar(&c.Reps, "reps", 1, "repetitions, each against a freshly started server")
	fs.DurationVar(&c.HealthWait, "health-timeout", 30*time.Second, "bound on waiting for /healthz after start")
	fs.DurationVar(&c.DialWait, "dial-timeout", 2*time.Minute, "bound on the workers connecting")
	fs.IntVar(&c.DialConc, "dial-concurrency", 32, "dials in flight per worker")
	fs.IntVar(&c.MaxPerProc, "max-per-client", 5000, "refuse a plan that puts more connections than this on one worker (fd limits)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.Load.WarmupSeconds, c.Load.DurationSeconds = warmup.Seconds(), duration.Seconds()
	l := c.Load
	switch {
	case c.ServerBin == "":
		return c, errors.New("--server-bin is required")
	case c.Name == "":
		return c, errors.New("--name is required")
	case c.Out == "":
		return c, errors.New("--out is required")
	case l.Conns < 1:
		return c, errors.New("--conns must be at least 1")
	case l.Size < 0 || l.Size > 1<<20:
		return c, errors.New("--size must be between 0 and 1 MiB")
	case l.Inflight < 1:
		return c, errors.New("--inflight must be at least 1")
	case l.Rate < 0:
		return c, errors.New("--rate must not be negative")
	case *duration <= 0 || *warmup < 0:
		return c, errors.New("--duration must be positive and --warmup not negative")
	case l.Clients < 1 || l.Clients > 200:
		return c, errors.New("--clients must be between 1 and 200")
	case l.Clients > l.Conns:
		return c, fmt.Errorf("--clients %d is more than --conns %d", l.Clients, l.Conns)
	case l.Loops < 1:
		return c, errors.New("--loops must be at least 1")
	case c.Reps < 1:
		return c, errors.New("--reps must be at least 1")
	}
	if l.Rate > 0 {
		c.Load.Inflight = 0 // open loop: in flight is whatever the server leaves unanswered
	}
	var err error
	if c.SrcBase, err = netip.ParseAddr(*src); err != nil || !c.SrcBase.Is4() || !c.SrcBase.IsLoopback() {
		return c, fmt.Errorf("--src-base %q must be an IPv4 loopback address", *src)
	}
	if most := (l.Conns + l.Clients - 1) / l.Clients; most > c.MaxPerProc {
		return c, fmt.Errorf("%d connections on one worker is over --max-per-client %d; raise --clients", most, c.MaxPerProc)
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
	ctx, stop, log := harness.Start(cfg.Name)
	defer stop()

	res, err := run(ctx, cfg, log)
	if res == nil {
		return err
	}
	return harness.Conclude(ctx, log, cfg.Out, &res.Failure, err, func() error {
		res.Summarize()
		return writeResult(cfg.Out, res)
	}, func() []any { return []any{"conclusion", conclusion(res)} })
}

func run(ctx context.Context, cfg Config, log *slog.Logger) (*Result, error) {
	setup, err := harness.Prepare(cfg.ServerBin, cfg.Out)
	if err != nil {
		return nil, err
	}
	serverBin := setup.ServerBin
	logFile, err := harness.ServerLog(cfg.Out)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	res := &Result{Name: cfg.Name, Load: cfg.Load, Meta: reportfile.NewRunMeta(cfg.Repo, serverBin, setup.Nofile, harness.Now())}
	defer func() { res.Meta.Finished = harness.Now() }()
	res.Meta.SourceAddrs = harness.SourceAddrs(cfg.SrcBase, cfg.Load.Clients)

	failure, err := harness.Repeat(ctx, cfg.Reps, logFile, log, func(i int) error {
		r := &repRunner{cfg: cfg, res: res, log: log.With("rep", i+1), serverBin: serverBin, logFile: logFile}
		rep, err := r.run(ctx)
		if err != nil {
			rep.Failure = err.Error()
		}
		res.Reps = append(res.Reps, *rep)
		return err
	}, func(i int) {
		rep := &res.Reps[i]
		log.Info("repetition measured", "rep", i+1, "msgs_per_sec", fmt.Sprintf("%.0f", rep.MsgsPerSec),
			"p50_ms", fmt.Sprintf("%.3f", rep.Latency.P50), "p99_ms", fmt.Sprintf("%.3f", rep.Latency.P99),
			"server_cpu_cores", fmt.Sprintf("%.2f", rep.ServerCPUCores),
			"server_cpu_s_per_1m", fmt.Sprintf("%.2f", rep.ServerCPUPerMillion), "rss_mib", mib(rep.ServerRSS))
	})
	if err != nil {
		return res, err
	}
	if failure != "" {
		res.Failure = failure
	}
	return res, nil
}

// repRunner is one repetition: a fresh server, fresh workers, one window.
type repRunner struct {
	cfg       Config
	res       *Result
	log       *slog.Logger
	serverBin string
	logFile   *os.File

	server  *proc.Child
	workers []*workerProc
}

// run always returns a Rep, filled as far as the repetition got.
func (r *repRunner) run(ctx context.Context) (*Rep, error) {
	rep := &Rep{}
	defer r.stopAll()
	cfg := r.cfg
	srv, err := harness.StartServer(ctx, r.log, cfg.Name, r.serverBin, cfg.ServerArgs, r.logFile, cfg.Out, cfg.HealthWait)
	if srv != nil {
		r.server = srv.Child
		if r.res.Meta.ServerArgs == nil {
			r.res.Meta.ServerArgs = srv.Args
		}
	}
	if err != nil {
		return rep, err
	}
	addr, adminAddr := srv.Addr, srv.AdminAddr
	r.res.Meta.NofileServer = sysinfo.ProcNofile(r.server.Pid())
	admin := target.NewAdmin(adminAddr)

	// Workers: the connections and the open-loop rate split evenly.
	l := cfg.Load
	src := cfg.SrcBase
	for i := range l.Clients {
		share := l.Conns / l.Clients
		if i < l.Conns%l.Clients {
			share++
		}
		wc := workerConfig{src: src.AsSlice(), url: "ws://" + addr + cfg.Path, conns: share, size: l.Size,
			inflight: max(l.Inflight, 1), rate: l.Rate * float64(share) / float64(l.Conns),
			warmup: seconds(l.WarmupSeconds), duration: seconds(l.DurationSeconds), loops: l.Loops, dialConc: cfg.DialConc}
		w, err := startWorker(wc)
		if err != nil {
			return rep, err
		}
		r.workers = append(r.workers, w)
		src = src.Next()
	}
	var problems []string
	for _, w := range r.workers {
		rd, err := w.Expect(ctx, evReady, cfg.DialWait)
		if err != nil {
			return rep, err
		}
		rep.Conns += rd.Conns
		rep.DialErrors += rd.DialErrors
		if rd.LastError != "" {
			problems = append(problems, fmt.Sprintf("%s connected %d (%d dial errors, last: %s)", w.Src(), rd.Conns, rd.DialErrors, rd.LastError))
		}
	}
	if rep.Conns != l.Conns {
		return rep, fmt.Errorf("connected %d of %d: %s", rep.Conns, l.Conns, strings.Join(problems, "; "))
	}
	if got, err := admin.WaitConns(ctx, int64(l.Conns), 30*time.Second); err != nil {
		return rep, fmt.Errorf("the clients hold %d connections but the server reports %d: %w", rep.Conns, got, err)
	}

	// Every worker starts at the same wall-clock instant; the controller
	// samples server CPU at the window's edges on the same clock.
	start := time.Now().Add(300 * time.Millisecond)
	for _, w := range r.workers {
		if err := w.Send(command{Op: opGo, StartUnixNano: start.UnixNano()}); err != nil {
			return rep, err
		}
	}
	warmupEnd := start.Add(seconds(l.WarmupSeconds))
	end := warmupEnd.Add(seconds(l.DurationSeconds))
	if err := target.Sleep(ctx, time.Until(warmupEnd)); err != nil {
		return rep, err
	}
	pids := []int{r.server.Pid()}
	for _, w := range r.workers {
		pids = append(pids, w.Pid())
	}
	win, err := harness.MeasureWindow(ctx, pids, end)
	if err != nil {
		return rep, err
	}
	rep.WindowSeconds, rep.ServerCPUSeconds, rep.ClientCPUSeconds = win.Seconds, win.ServerCPU, win.ClientCPU
	if st, err := procfs.ReadStatus(r.server.Pid()); err == nil {
		rep.ServerRSS, rep.ServerHWM, rep.ServerThreads = st.VmRSS, st.VmHWM, st.Threads
	}

	var merged report
	for _, w := range r.workers {
		fin, err := w.Expect(ctx, evFinished, 30*time.Second)
		if err != nil {
			return rep, err
		}
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
		if fin.LateStartNS > int64(100*time.Millisecond) {
			problems = append(problems, fmt.Sprintf("%s started %s late", w.Src(), time.Duration(fin.LateStartNS)))
		}
		if rep.Hist == nil {
			rep.Hist = fin.Hist
		} else if fin.Hist != nil {
			rep.Hist.Merge(fin.Hist)
		}
	}
	if s, err := admin.Stats(ctx); err == nil {
		rep.ServerGoroutines = s.Goroutines
	}
	rep.Sent, rep.Received, rep.ReceivedTotal = merged.Sent, merged.Received, merged.ReceivedTotal
	rep.Outstanding, rep.WrongSize, rep.ConnsLost = merged.Outstanding, merged.WrongSize, merged.ConnsLost
	rep.MaxSendLagMS = float64(merged.MaxSendLagNS) / 1e6
	rep.MsgsPerSec = float64(rep.Received) / l.DurationSeconds
	if rep.Hist != nil {
		rep.Latency = LatencyOf(rep.Hist)
	}
	rep.ServerCPUPerMillion = cpuPerMillion(rep.ServerCPUSeconds, rep.Received)
	if rep.WindowSeconds > 0 {
		rep.ServerCPUCores = rep.ServerCPUSeconds / rep.WindowSeconds
		rep.OtherCPUCores, rep.StealCores = win.OtherCPUCores, win.StealCores
	}
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

// stopAll stops the server, then the workers. Every wait is bounded.
func (r *repRunner) stopAll() {
	if r.server != nil {
		if err := r.server.Stop(5 * time.Second); err != nil {
			r.log.Warn("stopping server", "err", err)
		}
	}
	for _, w := range r.workers {
		w.Quit(command{Op: opQuit})
	}
	r.workers = nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func mib(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
