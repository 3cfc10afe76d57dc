package idle

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// Config is the idle scenario's flags.
type Config struct {
	runner.Flags
	runner.Dialing
	Steps       []int
	Settle      time.Duration
	CPUWindow   time.Duration
	GCWait      time.Duration
	RampTimeout time.Duration
	ConnsWait   time.Duration
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	c.Flags.Register(fs, runner.FlagDefaults{ServerArgs: "serve --echo", Path: "/echo", Clients: 4})
	c.Dialing.Register(fs)
	steps := fs.String("steps", "1000,2000,4000,7000,10000,13000,16000,19000", "comma-separated connection totals, increasing")
	fs.DurationVar(&c.Settle, "settle", 3*time.Second, "wait after a step is reached, before measuring")
	fs.DurationVar(&c.CPUWindow, "cpu-window", 5*time.Second, "window over which server CPU is measured at each step")
	fs.DurationVar(&c.GCWait, "gc-wait", time.Second, "wait after POST /debug/gc before sampling memory")
	fs.DurationVar(&c.RampTimeout, "ramp-timeout", 3*time.Minute, "bound on one step's ramp")
	fs.DurationVar(&c.ConnsWait, "conns-timeout", time.Minute, "bound on waiting for the server to report the step's count")
	if err := runner.Parse(fs, args, &c.Flags, &c.Dialing); err != nil {
		return c, err
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
	if most := (prev + c.Clients - 1) / c.Clients; most > c.MaxPerClient {
		return c, fmt.Errorf("the last step puts %d connections on one worker, over --max-per-client %d; raise --clients", most, c.MaxPerClient)
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
	ctx, stop, log := runner.Start(cfg.Name)
	defer stop()

	c := &controller{cfg: cfg, log: log}
	res, runErr := c.run(ctx)
	if res == nil {
		return runErr
	}
	return runner.Conclude(ctx, log, cfg.Out, &res.Failure, runErr, func() error {
		res.ComputeFits()
		return writeResult(cfg.Out, res)
	}, nil)
}

// controller is one idle run: one server, the workers, the steps.
type controller struct {
	cfg Config
	log *slog.Logger
	s   *runner.Session[*report]
}

// run does the measurement. It returns a Result as soon as one exists, so
// partial runs are still reported.
func (c *controller) run(ctx context.Context) (*Result, error) {
	cfg := c.cfg
	setup, err := runner.Prepare(cfg.ServerBin, cfg.Out)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: cfg.Name, Meta: Meta{
		Command:       sysinfo.ShellQuote(os.Args),
		ServerBin:     setup.ServerBin,
		ServerCommit:  sysinfo.GitCommit(cfg.Repo),
		ServerGo:      sysinfo.BinaryGoVersion(setup.ServerBin),
		Machine:       sysinfo.ReadMachine(),
		Sysctls:       sysinfo.Sysctls(sysinfo.ReportedSysctls),
		NofileSwload:  setup.Nofile,
		Clients:       cfg.Clients,
		StepTargets:   cfg.Steps,
		SettleSeconds: cfg.Settle.Seconds(),
		CPUWindowSecs: cfg.CPUWindow.Seconds(),
		GCWaitSeconds: cfg.GCWait.Seconds(),
		SlabinfoOK:    true,
		Started:       runner.Now(),
	}}
	defer func() { res.Meta.Finished = runner.Now() }()

	logFile, err := runner.ServerLog(cfg.Out)
	if err != nil {
		return res, err
	}
	defer logFile.Close()
	c.s = runner.NewSession[*report](c.log, &cfg.Flags)
	defer c.s.Close()
	err = c.s.StartServer(ctx, setup.ServerBin, logFile)
	if c.s.Server != nil {
		res.Meta.ServerArgs = c.s.Server.Args
	}
	if err != nil {
		return res, err
	}
	res.Meta.NofileServer = sysinfo.ProcNofile(c.s.Server.Child.Pid())
	admin := c.s.Admin

	base, err := c.measure(ctx, admin, 0)
	if err != nil {
		return res, fmt.Errorf("baseline: %w", err)
	}
	res.Baseline = base
	res.Meta.SlabinfoOK = base.Slab != nil

	err = c.s.StartWorkers("idle-worker", func(_ int, src net.IP) ([]string, bool) {
		return append(runner.WorkerFlags{Src: src, URL: c.s.URL}.Args(), "--dial-concurrency", strconv.Itoa(cfg.Concurrency)), true
	})
	res.Meta.SourceAddrs = runner.SourceAddrs(cfg.SrcBase, len(c.s.Workers))
	if err != nil {
		return res, err
	}
	if err := c.s.AwaitReady(ctx, 10*time.Second, nil); err != nil {
		return res, err
	}

	for _, total := range cfg.Steps {
		s, failure, err := c.step(ctx, admin, total)
		if err != nil {
			return res, err
		}
		if failure != "" {
			res.Failure = failure
			c.log.Error("step failed", "target", total, "why", failure)
			return res, nil
		}
		res.Steps = append(res.Steps, *s)
		c.log.Info("step measured", "conns", s.Conns,
			"rss_mib", mib(s.Proc.VmRSS), "heap_inuse_mib", mib(s.Go.HeapInuse),
			"goroutines", s.Go.Goroutines, "kernel_mib", mib(s.KernelBytes),
			"cpu_cores", fmt.Sprintf("%.4f", s.CPUCores))
	}
	return res, nil
}

// step ramps to total connections and measures. A step that cannot be
// reached is a failure (returned as text), not an error; err is for
// cancellation and broken tooling.
func (c *controller) step(ctx context.Context, admin target.Admin, total int) (_ *Sample, failure string, err error) {
	start := time.Now()
	workers := c.s.Workers
	for i, w := range workers {
		share := runner.Share(total, len(workers), i)
		if err := w.Send(command{Op: opRamp, Target: share, TimeoutMS: c.cfg.RampTimeout.Milliseconds()}); err != nil {
			return nil, "", err
		}
	}
	held, dialErrors := 0, 0
	var problems []string
	for _, w := range workers {
		rep, err := w.Receive(ctx, c.cfg.RampTimeout+30*time.Second)
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

	if got, err := c.waitConns(ctx, admin, total); err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, fmt.Sprintf("step %d: the clients hold %d but the server reports %d conns: %v", total, held, got, err), nil
	}
	s, err := c.measure(ctx, admin, total)
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
	for _, w := range workers {
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
func (c *controller) measure(ctx context.Context, admin target.Admin, target int) (*Sample, error) {
	pid := c.s.Server.Child.Pid()
	if err := sleep(ctx, c.cfg.Settle); err != nil {
		return nil, err
	}
	s := &Sample{Target: target}
	var err error
	win, err := runner.MeasureWindow(ctx, []int{pid}, time.Now().Add(c.cfg.CPUWindow))
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
	if err := sleep(ctx, c.cfg.GCWait); err != nil {
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

// waitConns polls the server's stats until it reports want connections.
func (c *controller) waitConns(ctx context.Context, admin target.Admin, want int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnsWait)
	defer cancel()
	var got int64 = -1
	server := c.s.Server.Child
	for {
		if server.Exited() {
			return got, fmt.Errorf("server exited: %v", server.Err())
		}
		s, err := admin.Stats(ctx)
		if err == nil {
			got = s.Conns
			if got == int64(want) {
				return got, nil
			}
		}
		if sleep(ctx, 200*time.Millisecond) != nil {
			return got, fmt.Errorf("not within %s", c.cfg.ConnsWait)
		}
	}
}

func mib(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
