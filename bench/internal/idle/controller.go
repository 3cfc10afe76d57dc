package idle

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/harness"
	"github.com/switchboard-chat/switchboard/bench/internal/proc"
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// Config is the idle scenario's flags.
type Config struct {
	ServerBin   string
	ServerArgs  string
	Name        string
	Steps       []int
	Clients     int
	Out         string
	Repo        string
	SrcBase     netip.Addr
	Path        string
	Settle      time.Duration
	CPUWindow   time.Duration
	GCWait      time.Duration
	RampTimeout time.Duration
	ConnsWait   time.Duration
	HealthWait  time.Duration
	DialConc    int
	MaxPerProc  int
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.StringVar(&c.ServerBin, "server-bin", "", "server binary to start (required)")
	fs.StringVar(&c.ServerArgs, "server-args", "serve --echo", "arguments before --addr/--admin-addr, split on spaces")
	fs.StringVar(&c.Name, "name", "", "name of the server in reports (required)")
	steps := fs.String("steps", "1000,2000,4000,7000,10000,13000,16000,19000", "comma-separated connection totals, increasing")
	fs.IntVar(&c.Clients, "clients", 4, "worker processes, each with its own source address")
	fs.StringVar(&c.Out, "out", "", "output path without extension: writes <out>.json, <out>.md, <out>.server.log (required)")
	fs.StringVar(&c.Repo, "repo", ".", "git repository of the server, for the commit in the report")
	src := fs.String("src-base", "127.0.0.2", "source address of the first worker; the next ones count up")
	fs.StringVar(&c.Path, "path", "/echo", "WebSocket path on the server")
	fs.DurationVar(&c.Settle, "settle", 3*time.Second, "wait after a step is reached, before measuring")
	fs.DurationVar(&c.CPUWindow, "cpu-window", 5*time.Second, "window over which server CPU is measured at each step")
	fs.DurationVar(&c.GCWait, "gc-wait", time.Second, "wait after POST /debug/gc before sampling memory")
	fs.DurationVar(&c.RampTimeout, "ramp-timeout", 3*time.Minute, "bound on one step's ramp")
	fs.DurationVar(&c.ConnsWait, "conns-timeout", time.Minute, "bound on waiting for the server to report the step's count")
	fs.DurationVar(&c.HealthWait, "health-timeout", 30*time.Second, "bound on waiting for /healthz after start")
	fs.IntVar(&c.DialConc, "dial-concurrency", 32, "dials in flight per worker")
	fs.IntVar(&c.MaxPerProc, "max-per-client", 5000, "refuse a plan that puts more connections than this on one worker (fd limits)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case c.ServerBin == "":
		return c, errors.New("--server-bin is required")
	case c.Name == "":
		return c, errors.New("--name is required")
	case c.Out == "":
		return c, errors.New("--out is required")
	case c.Clients < 1 || c.Clients > 200:
		return c, errors.New("--clients must be between 1 and 200")
	}
	var err error
	if c.SrcBase, err = netip.ParseAddr(*src); err != nil || !c.SrcBase.Is4() || !c.SrcBase.IsLoopback() {
		return c, fmt.Errorf("--src-base %q must be an IPv4 loopback address", *src)
	}
	prev := 0
	for _, f := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= prev {
			return c, fmt.Errorf("--steps must be increasing positive integers, got %q", *steps)
		}
		c.Steps = append(c.Steps, n)
		prev = n
	}
	if most := (prev + c.Clients - 1) / c.Clients; most > c.MaxPerProc {
		return c, fmt.Errorf("the last step puts %d connections on one worker, over --max-per-client %d; raise --clients", most, c.MaxPerProc)
	}
	return c, nil
}

// Run is `swload idle`. It writes the reports even when a step fails, and
// returns an error in that case.
func Run(args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	ctx, stop, log := harness.Start(cfg.Name)
	defer stop()

	r := &runner{cfg: cfg, log: log}
	res, runErr := r.run(ctx)
	if res == nil {
		return runErr
	}
	if ctx.Err() != nil {
		// Interrupted: keep whatever report a complete earlier run left.
		return fmt.Errorf("interrupted; everything stopped, no report written: %w", runErr)
	}
	if runErr != nil && res.Failure == "" {
		res.Failure = runErr.Error()
	}
	res.ComputeFits()
	if err := writeResult(cfg.Out, res); err != nil {
		return errors.Join(runErr, err)
	}
	log.Info("reports written", "json", cfg.Out+".json", "md", cfg.Out+".md")
	if runErr == nil && res.Failure != "" {
		runErr = errors.New(res.Failure)
	}
	return runErr
}

type runner struct {
	cfg     Config
	log     *slog.Logger
	server  *proc.Child
	workers []*workerProc
}

// run does the measurement. It returns a Result as soon as one exists, so
// partial runs are still reported.
func (r *runner) run(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	setup, err := harness.Prepare(cfg.ServerBin, cfg.Out)
	if err != nil {
		return nil, err
	}
	serverBin := setup.ServerBin
	addr, adminAddr, err := target.Addrs()
	if err != nil {
		return nil, err
	}
	serverArgs := append(strings.Fields(cfg.ServerArgs), "--addr", addr, "--admin-addr", adminAddr)

	res := &Result{Name: cfg.Name, Meta: Meta{
		Command:       sysinfo.ShellQuote(os.Args),
		ServerBin:     serverBin,
		ServerArgs:    serverArgs,
		ServerCommit:  sysinfo.GitCommit(cfg.Repo),
		ServerGo:      sysinfo.BinaryGoVersion(serverBin),
		Machine:       sysinfo.ReadMachine(),
		Sysctls:       sysinfo.Sysctls(sysinfo.ReportedSysctls),
		NofileSwload:  setup.Nofile,
		Clients:       cfg.Clients,
		StepTargets:   cfg.Steps,
		SettleSeconds: cfg.Settle.Seconds(),
		CPUWindowSecs: cfg.CPUWindow.Seconds(),
		GCWaitSeconds: cfg.GCWait.Seconds(),
		SlabinfoOK:    true,
		Started:       harness.Now(),
	}}
	defer func() { res.Meta.Finished = harness.Now() }()
	// Stop the server before the workers: its sockets then close first and
	// TIME_WAIT lands on its side, not on the workers' source ports.
	defer r.stopAll()

	logFile, err := harness.ServerLog(cfg.Out)
	if err != nil {
		return res, err
	}
	defer logFile.Close()
	cmd := exec.Command(serverBin, serverArgs...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if r.server, err = proc.Start(cfg.Name, cmd); err != nil {
		return res, err
	}
	r.log.Info("server started", "pid", r.server.Pid(), "addr", addr, "admin", adminAddr, "log", cfg.Out+".server.log")
	if err := r.waitHealthy(ctx, "http://"+addr+"/healthz"); err != nil {
		return res, err
	}
	res.Meta.NofileServer = sysinfo.ProcNofile(r.server.Pid())
	admin := target.NewAdmin(adminAddr)

	base, err := r.measure(ctx, admin, 0)
	if err != nil {
		return res, fmt.Errorf("baseline: %w", err)
	}
	res.Baseline = base
	res.Meta.SlabinfoOK = base.Slab != nil

	url := "ws://" + addr + cfg.Path
	src := cfg.SrcBase
	for i := 0; i < cfg.Clients; i++ {
		w, err := startWorker(ctx, src.String(), url, cfg.DialConc)
		if err != nil {
			return res, err
		}
		r.workers = append(r.workers, w)
		res.Meta.SourceAddrs = append(res.Meta.SourceAddrs, src.String())
		src = src.Next()
	}

	for _, total := range cfg.Steps {
		s, failure, err := r.step(ctx, admin, total)
		if err != nil {
			return res, err
		}
		if failure != "" {
			res.Failure = failure
			r.log.Error("step failed", "target", total, "why", failure)
			return res, nil
		}
		res.Steps = append(res.Steps, *s)
		r.log.Info("step measured", "conns", s.Conns,
			"rss_mib", mib(s.Proc.VmRSS), "heap_inuse_mib", mib(s.Go.HeapInuse),
			"goroutines", s.Go.Goroutines, "kernel_mib", mib(s.KernelBytes),
			"cpu_cores", fmt.Sprintf("%.4f", s.CPUCores))
	}
	return res, nil
}

// step ramps to total connections and measures. A step that cannot be
// reached is a failure (returned as text), not an error; err is for
// cancellation and broken tooling.
func (r *runner) step(ctx context.Context, admin target.Admin, total int) (_ *Sample, failure string, err error) {
	start := time.Now()
	n := len(r.workers)
	for i, w := range r.workers {
		share := total / n
		if i < total%n {
			share++
		}
		if err := w.Send(command{Op: opRamp, Target: share, TimeoutMS: r.cfg.RampTimeout.Milliseconds()}); err != nil {
			return nil, "", err
		}
	}
	held, dialErrors := 0, 0
	var problems []string
	for _, w := range r.workers {
		rep, err := w.Receive(ctx, r.cfg.RampTimeout+30*time.Second)
		if err != nil {
			return nil, "", err
		}
		held += rep.Held
		dialErrors += rep.DialErrors
		if rep.Held != rep.Target {
			problems = append(problems, fmt.Sprintf("%s held %d of %d (%d dial errors, last: %s)",
				rep.Src, rep.Held, rep.Target, rep.DialErrors, rep.LastError))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Sprintf("step %d: reached %d connections: %s", total, held, strings.Join(problems, "; ")), nil
	}
	rampSeconds := time.Since(start).Seconds()

	if got, err := r.waitConns(ctx, admin, total); err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, fmt.Sprintf("step %d: the clients hold %d but the server reports %d conns: %v", total, held, got, err), nil
	}
	s, err := r.measure(ctx, admin, total)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, fmt.Sprintf("step %d: %v", total, err), nil
	}
	s.RampSeconds = rampSeconds
	s.DialErrors = dialErrors

	// Connections lost while measuring would make the sample lie.
	stillHeld, dropped := 0, 0
	var lastDrop string
	for _, w := range r.workers {
		rep, err := w.Request(ctx, command{Op: opStatus}, 30*time.Second)
		if err != nil {
			return nil, "", err
		}
		stillHeld += rep.Held
		dropped += rep.Dropped
		if rep.LastDropError != "" {
			lastDrop = rep.LastDropError
		}
	}
	if stillHeld != total || int64(total) != s.Conns {
		return nil, fmt.Sprintf("step %d: connections dropped while measuring: clients hold %d, server reported %d (drops so far %d, last: %s)",
			total, stillHeld, s.Conns, dropped, lastDrop), nil
	}
	return s, "", nil
}

// measure settles, measures CPU, forces a GC in the server and samples.
func (r *runner) measure(ctx context.Context, admin target.Admin, target int) (*Sample, error) {
	pid := r.server.Pid()
	if err := sleep(ctx, r.cfg.Settle); err != nil {
		return nil, err
	}
	s := &Sample{Target: target}
	var err error
	win, err := harness.MeasureWindow(ctx, []int{pid}, time.Now().Add(r.cfg.CPUWindow))
	s.CPUSeconds, s.CPUWindowSeconds, s.OtherCPUCores = win.ServerCPU, win.Seconds, win.OtherCPUCores+win.StealCores
	if err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	if s.CPUWindowSeconds > 0 {
		s.CPUCores = s.CPUSeconds / s.CPUWindowSeconds
	}
	if err := admin.GC(ctx); err != nil {
		return nil, err
	}
	if err := sleep(ctx, r.cfg.GCWait); err != nil {
		return nil, err
	}
	s.Time = time.Now().UTC()
	if s.Go, err = admin.Stats(ctx); err != nil {
		return nil, err
	}
	s.Conns = s.Go.Conns
	if _, err := readProcess(pid, pageSize, s); err != nil {
		return nil, err
	}
	return s, nil
}

func (r *runner) waitHealthy(ctx context.Context, url string) error {
	return target.WaitHealthy(ctx, url, r.cfg.HealthWait, func() error {
		if r.server.Exited() {
			return fmt.Errorf("%v (see %s.server.log)", r.server.Err(), r.cfg.Out)
		}
		return nil
	})
}

// waitConns polls the server's stats until it reports want connections.
func (r *runner) waitConns(ctx context.Context, admin target.Admin, want int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ConnsWait)
	defer cancel()
	var got int64 = -1
	for {
		if r.server.Exited() {
			return got, fmt.Errorf("server exited: %v", r.server.Err())
		}
		s, err := admin.Stats(ctx)
		if err == nil {
			got = s.Conns
			if got == int64(want) {
				return got, nil
			}
		}
		if sleep(ctx, 200*time.Millisecond) != nil {
			return got, fmt.Errorf("not within %s", r.cfg.ConnsWait)
		}
	}
}

// stopAll stops the server, then the workers. Every wait is bounded.
func (r *runner) stopAll() {
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

func mib(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
