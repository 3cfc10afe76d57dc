package chat

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/chatframe"
	"github.com/switchboard-chat/switchboard/bench/internal/harness"
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/proc"
	"github.com/switchboard-chat/switchboard/bench/internal/procfs"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// Load is what every repetition asks of the server.
type Load struct {
	Users           int     `json:"users"`
	Rooms           int     `json:"rooms"`
	RoomsPerUser    int     `json:"rooms_per_user"`
	PublishRate     float64 `json:"publish_rate"`   // publishes/s in total, open loop
	ReconnectRate   float64 `json:"reconnect_rate"` // reconnects/s in total
	TypingEvery     int     `json:"typing_every"`
	ReadEvery       int     `json:"read_every"`
	WarmupSeconds   float64 `json:"warmup_seconds"`
	DurationSeconds float64 `json:"duration_seconds"`
	Clients         int     `json:"clients"`
}

// Describe says in words what load a run applied.
func (l Load) Describe() string {
	return fmt.Sprintf("%d users (one connection each) in %d rooms, %d rooms per user (about %d members per room); "+
		"%g publishes/s in total (open loop, a typing frame before one publish in %d), a read receipt for one message "+
		"received in %d, %g reconnects/s resuming every room with since; %gs warmup + %gs measured; %d worker processes",
		l.Users, l.Rooms, l.RoomsPerUser, l.Users*l.RoomsPerUser/max(l.Rooms, 1), l.PublishRate, l.TypingEvery, l.ReadEvery,
		l.ReconnectRate, l.WarmupSeconds, l.DurationSeconds, l.Clients)
}

// Config is the chat scenario's flags.
type Config struct {
	ServerBin, ServerArgs, Name, Out, Repo, Path string
	SrcBase                                      netip.Addr
	Load                                         Load
	Reps                                         int
	Drain, HealthWait                            time.Duration
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.StringVar(&c.ServerBin, "server-bin", "", "switchboard binary (required)")
	fs.StringVar(&c.ServerArgs, "server-args", "serve --auth none --rate 100", "arguments before --addr/--admin-addr; the server must take ?user= (--auth none)")
	fs.StringVar(&c.Name, "name", "switchboard-epoll", "name in reports")
	fs.StringVar(&c.Out, "out", "", "output path without extension: <out>.json, <out>.md, <out>.server.log (required)")
	fs.StringVar(&c.Repo, "repo", ".", "git repository of the server, for the commit in the report")
	fs.StringVar(&c.Path, "path", "/ws", "chat WebSocket path")
	src := fs.String("src-base", "127.0.0.2", "source address of the first worker; the next ones count up")
	fs.IntVar(&c.Load.Users, "users", 400, "users, one connection each")
	fs.IntVar(&c.Load.Rooms, "rooms", 20, "rooms")
	fs.IntVar(&c.Load.RoomsPerUser, "rooms-per-user", 3, "rooms each user joins")
	fs.Float64Var(&c.Load.PublishRate, "publish-rate", 200, "publishes/s in total, open loop")
	fs.Float64Var(&c.Load.ReconnectRate, "reconnect-rate", 5, "reconnects/s in total (close, dial, join every room with since)")
	fs.IntVar(&c.Load.TypingEvery, "typing-every", 2, "a typing frame before every n-th publish (0: none)")
	fs.IntVar(&c.Load.ReadEvery, "read-every", 5, "a read receipt after every n-th message a user receives (0: none)")
	duration := fs.Duration("duration", 10*time.Second, "measured window")
	warmup := fs.Duration("warmup", 2*time.Second, "load before the window, not measured")
	fs.DurationVar(&c.Drain, "drain", 5*time.Second, "longest wait for deliveries after the window")
	fs.IntVar(&c.Load.Clients, "clients", 2, "worker processes, each with its own source address")
	fs.IntVar(&c.Reps, "reps", 1, "repetitions, each against a freshly started server")
	fs.DurationVar(&c.HealthWait, "health-timeout", 30*time.Second, "bound on waiting for /healthz")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.Load.WarmupSeconds, c.Load.DurationSeconds = warmup.Seconds(), duration.Seconds()
	l := c.Load
	switch {
	case c.ServerBin == "" || c.Out == "":
		return c, errors.New("--server-bin and --out are required")
	case l.Clients < 1 || l.Users < l.Clients || l.Users/l.Clients > 5000:
		return c, errors.New("--users must be at least --clients and at most 5000 per worker (fd limits)")
	case l.Rooms < 1 || l.RoomsPerUser < 1 || l.RoomsPerUser > l.Rooms || l.RoomsPerUser > 100:
		return c, errors.New("--rooms-per-user must be between 1 and min(--rooms, 100)")
	case l.PublishRate < 0 || l.ReconnectRate < 0 || *duration <= 0 || *warmup < 0 || c.Reps < 1:
		return c, errors.New("rates must not be negative; --duration and --reps positive")
	}
	var err error
	if c.SrcBase, err = netip.ParseAddr(*src); err != nil || !c.SrcBase.Is4() || !c.SrcBase.IsLoopback() {
		return c, fmt.Errorf("--src-base %q must be an IPv4 loopback address", *src)
	}
	return c, nil
}

// Run is `swload chat`.
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
		log.Info("repetition measured", "rep", i+1, "acked_per_sec", fmt.Sprintf("%.0f", rep.AckedPerSec),
			"deliveries_per_sec", fmt.Sprintf("%.0f", rep.DeliveriesPerSec), "p99_ms", fmt.Sprintf("%.3f", rep.Latency.P99),
			"reconnects", rep.Reconnects, "gaps", rep.Gaps, "dups", rep.Dups)
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

func runRep(ctx context.Context, cfg Config, res *Result, serverBin string, logFile io.Writer, log *slog.Logger) (*Rep, error) {
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
	wsURL := "ws://" + srv.Addr + cfg.Path
	l := cfg.Load
	var rooms []string
	for i := range l.Rooms {
		rooms = append(rooms, RoomName(i))
	}
	if err := chatframe.CreateRooms(ctx, wsURL, rooms); err != nil {
		return rep, fmt.Errorf("create rooms: %w", err)
	}
	src, lo := cfg.SrcBase, 0
	for i := range l.Clients {
		share := l.Users / l.Clients
		if i < l.Users%l.Clients {
			share++
		}
		frac := float64(share) / float64(l.Users)
		wc := workerConfig{src: src.AsSlice(), url: wsURL, lo: lo, hi: lo + share, rooms: l.Rooms, roomsPerUser: l.RoomsPerUser,
			publishRate: l.PublishRate * frac, reconnectRate: l.ReconnectRate * frac, typingEvery: l.TypingEvery,
			readEvery: l.ReadEvery, warmup: seconds(l.WarmupSeconds), duration: seconds(l.DurationSeconds), drain: cfg.Drain}
		lo += share
		w, err := startWorker(wc)
		if err != nil {
			return rep, err
		}
		workers = append(workers, w)
		src = src.Next()
	}
	var problems []string
	for _, w := range workers {
		rd, err := w.Expect(ctx, evReady, 3*time.Minute)
		if err != nil {
			return rep, err
		}
		rep.Users += rd.Users
		if rd.LastError != "" {
			problems = append(problems, w.Src()+": "+rd.LastError)
		}
	}
	if len(problems) > 0 {
		return rep, fmt.Errorf("setup: %s", strings.Join(problems, "; "))
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
	rep.ServerCPUCores = win.ServerCPU / win.Seconds
	rep.OtherCPUCores = win.OtherCPUCores + win.StealCores
	if st, err := procfs.ReadStatus(server.Pid()); err == nil {
		rep.ServerRSS = st.VmRSS
	}
	lastSeqs := map[string][]uint64{}
	h := hist.New()
	for _, w := range workers {
		fin, err := w.Expect(ctx, evFinished, cfg.Drain+seconds(l.DurationSeconds)+time.Minute)
		if err != nil {
			return rep, err
		}
		rep.Counts.add(fin.Counts)
		for r, s := range fin.LastSeqs {
			lastSeqs[r] = append(lastSeqs[r], s...)
		}
		if fin.Hist != nil {
			h.Merge(fin.Hist)
		}
		if fin.LateStartNS > int64(100*time.Millisecond) {
			problems = append(problems, fmt.Sprintf("%s started %s late", w.Src(), time.Duration(fin.LateStartNS)))
		}
	}
	rep.Undelivered, rep.MembersBehind = undelivered(rep.Heads, lastSeqs)
	rep.AckedPerSec = float64(rep.AcksInWindow) / l.DurationSeconds
	rep.DeliveriesPerSec = float64(rep.Delivered) / l.DurationSeconds
	if h.Count() > 0 {
		rep.Latency = summary.LatencyOf(h)
	}
	switch {
	case rep.Gaps > 0 || rep.Dups > 0 || rep.BadFrames > 0:
		return rep, fmt.Errorf("seq check failed: %d gaps, %d duplicates, %d bad frames", rep.Gaps, rep.Dups, rep.BadFrames)
	case rep.Undelivered > 0:
		return rep, fmt.Errorf("%d messages acked but not delivered to %d memberships after the drain", rep.Undelivered, rep.MembersBehind)
	case rep.Acks != rep.Published:
		// Every publish is acked exactly once, retries after a reconnect
		// included (the server answers a retried id with its first seq).
		return rep, fmt.Errorf("%d publishes, %d acks (last error: %s)", rep.Published, rep.Acks, rep.LastError)
	case rep.ConnsLost > 0 || rep.ReconnectErrors > 0 || rep.Errors > 0:
		return rep, fmt.Errorf("%d connections lost, %d reconnects failed, %d error frames (last: %s)", rep.ConnsLost, rep.ReconnectErrors, rep.Errors, rep.LastError)
	case rep.AcksInWindow == 0:
		return rep, errors.New("no publish acked in the window")
	case len(problems) > 0:
		return rep, errors.New(strings.Join(problems, "; "))
	}
	return rep, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
