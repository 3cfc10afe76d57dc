package fanout

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/chatframe"
	"github.com/switchboard-chat/switchboard/bench/internal/harness"
	"github.com/switchboard-chat/switchboard/bench/internal/proc"
	"github.com/switchboard-chat/switchboard/bench/internal/procfs"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// Config is the fanout scenario's flags.
type Config struct {
	ServerBin  string
	ServerArgs string
	Name       string
	Out        string
	Repo       string
	Path       string
	Room       string
	SrcBase    netip.Addr
	Load       Load
	Reps       int
	Drain      time.Duration
	HealthWait time.Duration
	JoinWait   time.Duration
	DialConc   int
	MaxPerProc int
}

var roomID = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	fs.StringVar(&c.ServerBin, "server-bin", "", "server binary to start: switchboard or a peer (required)")
	fs.StringVar(&c.ServerArgs, "server-args", "serve --auth none", "arguments before --addr/--admin-addr, split on spaces; the server must accept ?user= (switchboard: --auth none)")
	fs.StringVar(&c.Name, "name", "", "name of the configuration in reports (required)")
	fs.StringVar(&c.Out, "out", "", "output path without extension: writes <out>.json, <out>.md, <out>.server.log (required)")
	fs.StringVar(&c.Repo, "repo", ".", "git repository of the server, for the commit in the report")
	fs.StringVar(&c.Path, "path", "/ws", "chat WebSocket path on the server")
	fs.StringVar(&c.Room, "room", "fan", "room to create and fan out in; with --rooms over 1, the prefix of <room>-0, <room>-1, ...")
	fs.IntVar(&c.Load.Rooms, "rooms", 1, "rooms, each with --members members; publishers share the rooms")
	src := fs.String("src-base", "127.0.0.2", "source address of the first worker; the next ones count up")
	fs.IntVar(&c.Load.Members, "members", 1000, "member connections per room (users m0, m1, ... counting over all rooms)")
	fs.IntVar(&c.Load.Users, "users", 0, "distinct member user names, member i being m<i % users>; 0 = one user per member. "+
		"Each user's first join sends presence to every member already in the room, so N distinct users cost about N×members/2 presence frames before the run")
	fs.IntVar(&c.Load.Publishers, "publishers", 1, "publisher connections (users p0, p1, ...), each joined to the rooms it publishes to")
	fs.Float64Var(&c.Load.Rate, "rate", 100, "publishes/s in total over the publishers, open loop")
	duration := fs.Duration("duration", 10*time.Second, "measured window of each repetition")
	warmup := fs.Duration("warmup", 2*time.Second, "publishing before the window, not measured")
	fs.DurationVar(&c.Drain, "drain", 5*time.Second, "longest wait for deliveries after publishing stops")
	fs.IntVar(&c.Load.Clients, "clients", 4, "worker processes, each with its own source address")
	fs.IntVar(&c.Reps, "reps", 1, "repetitions, each against a freshly started server")
	fs.DurationVar(&c.HealthWait, "health-timeout", 30*time.Second, "bound on waiting for /healthz after start")
	fs.DurationVar(&c.JoinWait, "join-timeout", 3*time.Minute, "bound on the workers dialing and joining")
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
	case !roomID.MatchString(c.Room):
		return c, fmt.Errorf("--room %q is not a room id (a-z 0-9 _ -, 1-64)", c.Room)
	case l.Members < 1:
		return c, errors.New("--members must be at least 1")
	case l.Rooms < 1 || l.Rooms > 10000:
		return c, errors.New("--rooms must be between 1 and 10000")
	case l.Users < 0 || l.Users > l.totalMembers():
		return c, errors.New("--users must be between 0 and --members × --rooms")
	case l.Rooms > 100*l.Publishers:
		return c, errors.New("a publisher joins at most 100 rooms: raise --publishers to at least --rooms / 100")
	case l.Publishers < 1:
		return c, errors.New("--publishers must be at least 1")
	case l.Rate <= 0:
		return c, errors.New("--rate must be positive")
	case *duration <= 0 || *warmup < 0 || c.Drain < 0:
		return c, errors.New("--duration must be positive, --warmup and --drain not negative")
	case l.Clients < 1 || l.Clients > 200:
		return c, errors.New("--clients must be between 1 and 200")
	case c.Reps < 1:
		return c, errors.New("--reps must be at least 1")
	}
	var err error
	if c.SrcBase, err = netip.ParseAddr(*src); err != nil || !c.SrcBase.Is4() || !c.SrcBase.IsLoopback() {
		return c, fmt.Errorf("--src-base %q must be an IPv4 loopback address", *src)
	}
	if most := (l.totalMembers()+l.Publishers+l.Clients-1)/l.Clients + 1; most > c.MaxPerProc {
		return c, fmt.Errorf("about %d connections on one worker is over --max-per-client %d; raise --clients", most, c.MaxPerProc)
	}
	return c, nil
}

// Run is `swload fanout`. It writes the reports even when a repetition
// fails, and returns an error in that case.
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
		log.Info("repetition measured", "rep", i+1, "deliveries_per_sec", fmt.Sprintf("%.0f", rep.DeliveriesPerSec),
			"p50_ms", fmt.Sprintf("%.3f", rep.Latency.P50), "p99_ms", fmt.Sprintf("%.3f", rep.Latency.P99),
			"server_cpu_cores", fmt.Sprintf("%.2f", rep.ServerCPUCores), "setup_s", fmt.Sprintf("%.1f", rep.SetupSeconds))
	})
	if err != nil {
		return res, err
	}
	if failure != "" {
		res.Failure = failure
	}
	return res, nil
}

// repRunner is one repetition: a fresh server, a fresh room, fresh workers.
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
	wsURL := "ws://" + addr + cfg.Path
	rooms := make([]string, cfg.Load.Rooms)
	for i := range rooms {
		rooms[i] = roomName(cfg.Room, i, len(rooms))
	}
	if err := chatframe.CreateRooms(ctx, wsURL, rooms); err != nil {
		return rep, fmt.Errorf("create rooms: %w", err)
	}

	// Workers: members split evenly, publisher i on worker i % clients,
	// and each worker publishes at its publishers' share of the rate.
	l := cfg.Load
	src := cfg.SrcBase
	lo := 0
	setupStart := time.Now()
	for i := range l.Clients {
		share := l.totalMembers() / l.Clients
		if i < l.totalMembers()%l.Clients {
			share++
		}
		var pubs []int
		for p := i; p < l.Publishers; p += l.Clients {
			pubs = append(pubs, p)
		}
		if share == 0 && len(pubs) == 0 {
			continue
		}
		wc := workerConfig{src: src.AsSlice(), url: wsURL, room: cfg.Room, rooms: l.Rooms, publishers: l.Publishers, memberLo: lo, memberHi: lo + share, users: l.Users, pubs: pubs,
			rate: l.Rate * float64(len(pubs)) / float64(l.Publishers), warmup: seconds(l.WarmupSeconds),
			duration: seconds(l.DurationSeconds), drain: cfg.Drain, joinTimeout: cfg.JoinWait, dialConc: cfg.DialConc}
		lo += share
		w, err := startWorker(wc)
		if err != nil {
			return rep, err
		}
		r.workers = append(r.workers, w)
		src = src.Next()
	}
	var problems []string
	for _, w := range r.workers {
		jr, err := w.Expect(ctx, evJoined, cfg.JoinWait+30*time.Second)
		if err != nil {
			return rep, err
		}
		rep.Members += jr.Members
		rep.Publishers += jr.Publishers
		rep.DialErrors += jr.DialErrors
		rep.SetupPresence += jr.Presence
		if jr.LastError != "" {
			problems = append(problems, fmt.Sprintf("%s joined %d members + %d publishers (%d dial errors, last: %s)",
				w.Src(), jr.Members, jr.Publishers, jr.DialErrors, jr.LastError))
		}
	}
	rep.SetupSeconds = time.Since(setupStart).Seconds()
	r.log.Info("room joined", "members", rep.Members, "publishers", rep.Publishers, "setup_s", fmt.Sprintf("%.1f", rep.SetupSeconds),
		"presence_frames", rep.SetupPresence)
	if rep.Members != l.totalMembers() || rep.Publishers != l.Publishers {
		return rep, fmt.Errorf("joined %d of %d members and %d of %d publishers: %s", rep.Members, l.totalMembers(),
			rep.Publishers, l.Publishers, strings.Join(problems, "; "))
	}
	want := int64(l.totalMembers() + l.Publishers)
	if got, err := admin.WaitConns(ctx, want, 30*time.Second); err != nil {
		return rep, fmt.Errorf("the clients hold %d connections but the server reports %d: %w", want, got, err)
	}

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

	for _, w := range r.workers {
		fin, err := w.Expect(ctx, evFinished, cfg.Drain+30*time.Second)
		if err != nil {
			return rep, err
		}
		rep.Counts.add(fin.Counts)
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
	rep.DeliveriesPerSec = float64(rep.Delivered) / l.DurationSeconds
	if rep.Hist != nil && rep.Hist.Count() > 0 {
		rep.Latency = LatencyOf(rep.Hist)
	}
	if rep.Delivered > 0 {
		rep.ServerCPUPerMillion = rep.ServerCPUSeconds / float64(rep.Delivered) * 1e6
	}
	// Every ack is a message for the members of one room; members the
	// server closed or that were lost are not expected to have it.
	live := float64(max(0, l.totalMembers()-rep.ServerClosed-rep.ConnsLost)) / float64(l.totalMembers())
	if expected := uint64(float64(rep.Acks*uint64(l.Members))*live + 0.5); expected > rep.DeliveredTotal {
		rep.Undelivered = expected - rep.DeliveredTotal
	}
	if rep.WindowSeconds > 0 {
		rep.ServerCPUCores = rep.ServerCPUSeconds / rep.WindowSeconds
		rep.OtherCPUCores, rep.StealCores = win.OtherCPUCores, win.StealCores
	}
	switch {
	case rep.ServerClosed > 0 || rep.ConnsLost > 0:
		return rep, fmt.Errorf("%d connections closed by the server (%s) and %d lost (last: %s)",
			rep.ServerClosed, closeCodesText(rep.CloseCodes), rep.ConnsLost, rep.LastConnError)
	case rep.Gaps > 0 || rep.Dups > 0:
		return rep, fmt.Errorf("seq check failed: %d gaps, %d duplicates", rep.Gaps, rep.Dups)
	case rep.PublishErrors > 0:
		return rep, fmt.Errorf("%d publishes answered with an error (last: %s); is the server's --rate high enough for one publisher?",
			rep.PublishErrors, rep.LastPubError)
	case rep.Delivered == 0:
		return rep, errors.New("no delivery in the measured window")
	case len(problems) > 0:
		return rep, errors.New(strings.Join(problems, "; "))
	}
	return rep, nil
}

// closeCodesText writes {4001: 3, 1001: 1} as "4001×3, 1001×1".
func closeCodesText(codes map[int]int) string {
	if len(codes) == 0 {
		return "none"
	}
	keys := make([]int, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d×%d", k, codes[k]))
	}
	return strings.Join(parts, ", ")
}

// stopAll stops the server first (so that members leaving do not make it
// broadcast presence to everyone), then the workers. Every wait is bounded.
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
