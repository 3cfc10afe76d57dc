package fanout

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/chatframe"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Config is the fanout scenario's flags.
type Config struct {
	runner.Flags
	runner.Timing
	runner.Dialing
	Load     Load
	Room     string
	Drain    time.Duration
	JoinWait time.Duration
}

var roomID = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	c.Flags.Register(fs, runner.FlagDefaults{ServerBinHelp: "server binary to start: switchboard or a peer",
		ServerArgs:     "serve --auth none",
		ServerArgsHelp: "arguments before --addr/--admin-addr, split on spaces; the server must accept ?user= (switchboard: --auth none)",
		NameHelp:       "name of the configuration in reports",
		Path:           "/ws", PathHelp: "chat WebSocket path on the server", Clients: 4})
	c.Timing.Register(fs, 10*time.Second, 2*time.Second, "publishing before the window, not measured")
	c.Dialing.Register(fs)
	fs.StringVar(&c.Room, "room", "fan", "room to create and fan out in; with --rooms over 1, the prefix of <room>-0, <room>-1, ...")
	fs.IntVar(&c.Load.Rooms, "rooms", 1, "rooms, each with --members members; publishers share the rooms")
	fs.IntVar(&c.Load.Members, "members", 1000, "member connections per room (users m0, m1, ... counting over all rooms)")
	fs.IntVar(&c.Load.Users, "users", 0, "distinct member user names, member i being m<i % users>; 0 = one user per member. "+
		"Each user's first join sends presence to every member already in the room, so N distinct users cost about N×members/2 presence frames before the run")
	fs.IntVar(&c.Load.Publishers, "publishers", 1, "publisher connections (users p0, p1, ...), each joined to the rooms it publishes to")
	fs.Float64Var(&c.Load.Rate, "rate", 100, "publishes/s in total over the publishers, open loop")
	fs.DurationVar(&c.Drain, "drain", 5*time.Second, "longest wait for deliveries after publishing stops")
	fs.DurationVar(&c.JoinWait, "join-timeout", 3*time.Minute, "bound on the workers dialing and joining")
	if err := runner.Parse(fs, args, &c.Flags, &c.Timing, &c.Dialing); err != nil {
		return c, err
	}
	c.Load.Clients, c.Load.WarmupSeconds, c.Load.DurationSeconds = c.Clients, c.Warmup.Seconds(), c.Duration.Seconds()
	l := c.Load
	switch {
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
	case c.Drain < 0:
		return c, errors.New("--drain must not be negative")
	}
	if most := (l.totalMembers()+l.Publishers+l.Clients-1)/l.Clients + 1; most > c.MaxPerClient {
		return c, fmt.Errorf("about %d connections on one worker is over --max-per-client %d; raise --clients", most, c.MaxPerClient)
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
	return runner.Scenario[Load, Rep, Summary, *report]{
		Flags: cfg.Flags, Timing: cfg.Timing, Load: cfg.Load,
		Rep: cfg.rep,
		Measured: func(rep Rep) []any {
			return []any{"deliveries_per_sec", fmt.Sprintf("%.0f", rep.DeliveriesPerSec),
				"p50_ms", fmt.Sprintf("%.3f", rep.Latency.P50), "p99_ms", fmt.Sprintf("%.3f", rep.Latency.P99),
				"server_cpu_cores", fmt.Sprintf("%.2f", rep.ServerCPUCores), "setup_s", fmt.Sprintf("%.1f", rep.SetupSeconds)}
		},
		Summarize: summarize, Markdown: WriteMarkdown, Conclusion: conclusion,
	}.Run()
}

// rep is one repetition in s: fresh rooms, the workers dial and join,
// then one window and the drain. It returns the Rep as far as it got.
func (c Config) rep(ctx context.Context, s *runner.Session[*report]) (Rep, error) {
	var rep Rep
	l := c.Load
	rooms := make([]string, l.Rooms)
	for i := range rooms {
		rooms[i] = roomName(c.Room, i, len(rooms))
	}
	if err := chatframe.CreateRooms(ctx, s.URL, rooms); err != nil {
		return rep, fmt.Errorf("create rooms: %w", err)
	}

	// Workers: members split evenly, publisher i on worker i % clients,
	// and each worker publishes at its publishers' share of the rate.
	lo := 0
	setupStart := time.Now()
	err := s.StartWorkers("fanout-worker", func(i int, src net.IP) ([]string, bool) {
		share := runner.Share(l.totalMembers(), l.Clients, i)
		var pubs []int
		for p := i; p < l.Publishers; p += l.Clients {
			pubs = append(pubs, p)
		}
		if share == 0 && len(pubs) == 0 {
			return nil, false
		}
		wc := workerConfig{WorkerFlags: runner.WorkerFlags{Src: src, URL: s.URL}, dial: runner.WorkerDialing{Concurrency: c.Concurrency},
			room: c.Room, rooms: l.Rooms, publishers: l.Publishers, memberLo: lo, memberHi: lo + share, users: l.Users, pubs: pubs,
			rate: l.Rate * float64(len(pubs)) / float64(l.Publishers), warmup: c.Warmup, duration: c.Duration,
			drain: c.Drain, joinTimeout: c.JoinWait}
		lo += share
		return wc.args(), true
	})
	if err != nil {
		return rep, err
	}
	var problems []string
	err = s.AwaitReady(ctx, c.JoinWait+30*time.Second, func(src string, jr *report) {
		rep.Members += jr.Members
		rep.Publishers += jr.Publishers
		rep.DialErrors += jr.DialErrors
		rep.SetupPresence += jr.Presence
		if jr.LastError != "" {
			problems = append(problems, fmt.Sprintf("%s joined %d members + %d publishers (%d dial errors, last: %s)",
				src, jr.Members, jr.Publishers, jr.DialErrors, jr.LastError))
		}
	})
	if err != nil {
		return rep, err
	}
	rep.SetupSeconds = time.Since(setupStart).Seconds()
	s.Log.Info("room joined", "members", rep.Members, "publishers", rep.Publishers, "setup_s", fmt.Sprintf("%.1f", rep.SetupSeconds),
		"presence_frames", rep.SetupPresence)
	if rep.Members != l.totalMembers() || rep.Publishers != l.Publishers {
		return rep, fmt.Errorf("joined %d of %d members and %d of %d publishers: %s", rep.Members, l.totalMembers(),
			rep.Publishers, l.Publishers, strings.Join(problems, "; "))
	}
	want := int64(l.totalMembers() + l.Publishers)
	if got, err := s.Admin.WaitConns(ctx, want, 30*time.Second); err != nil {
		return rep, fmt.Errorf("the clients hold %d connections but the server reports %d: %w", want, got, err)
	}

	m, err := s.Measure(ctx, c.Warmup, c.Duration)
	if err != nil {
		return rep, err
	}
	rep.ServerCPUSeconds, rep.Usage = m.ServerCPU, m.Usage()
	rep.ServerHWM, rep.ServerThreads = m.Server.VmHWM, m.Server.Threads

	late, err := s.Finish(ctx, c.Drain+30*time.Second, func(fin *report) {
		rep.Counts.add(fin.Counts)
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
	rep.DeliveriesPerSec = float64(rep.Delivered) / l.DurationSeconds
	if rep.Hist != nil && rep.Hist.Count() > 0 {
		rep.Latency = summary.LatencyOf(rep.Hist)
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
