package chat

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/chatframe"
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
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
	runner.Flags
	runner.Timing
	Load  Load
	Drain time.Duration
}

func parseConfig(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	c.Flags.Register(fs, runner.FlagDefaults{ServerBinHelp: "switchboard binary", ServerArgs: "serve --auth none --rate 100",
		ServerArgsHelp: "arguments before --addr/--admin-addr; the server must take ?user= (--auth none)",
		Name:           "switchboard-epoll", NameHelp: "name in reports", Path: "/ws", PathHelp: "chat WebSocket path", Clients: 2})
	c.Timing.Register(fs, 10*time.Second, 2*time.Second, "load before the window, not measured")
	fs.IntVar(&c.Load.Users, "users", 400, "users, one connection each")
	fs.IntVar(&c.Load.Rooms, "rooms", 20, "rooms")
	fs.IntVar(&c.Load.RoomsPerUser, "rooms-per-user", 3, "rooms each user joins")
	fs.Float64Var(&c.Load.PublishRate, "publish-rate", 200, "publishes/s in total, open loop")
	fs.Float64Var(&c.Load.ReconnectRate, "reconnect-rate", 5, "reconnects/s in total (close, dial, join every room with since)")
	fs.IntVar(&c.Load.TypingEvery, "typing-every", 2, "a typing frame before every n-th publish (0: none)")
	fs.IntVar(&c.Load.ReadEvery, "read-every", 5, "a read receipt after every n-th message a user receives (0: none)")
	fs.DurationVar(&c.Drain, "drain", 5*time.Second, "longest wait for deliveries after the window")
	if err := runner.Parse(fs, args, &c.Flags, &c.Timing); err != nil {
		return c, err
	}
	c.Load.Clients, c.Load.WarmupSeconds, c.Load.DurationSeconds = c.Clients, c.Warmup.Seconds(), c.Duration.Seconds()
	l := c.Load
	switch {
	case l.Users < l.Clients || l.Users/l.Clients > 5000:
		return c, errors.New("--users must be at least --clients and at most 5000 per worker (fd limits)")
	case l.Rooms < 1 || l.RoomsPerUser < 1 || l.RoomsPerUser > l.Rooms || l.RoomsPerUser > 100:
		return c, errors.New("--rooms-per-user must be between 1 and min(--rooms, 100)")
	case l.PublishRate < 0 || l.ReconnectRate < 0:
		return c, errors.New("rates must not be negative")
	}
	return c, nil
}

// Run is `swload chat`. It writes the reports even when a repetition
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
			return []any{"acked_per_sec", fmt.Sprintf("%.0f", rep.AckedPerSec),
				"deliveries_per_sec", fmt.Sprintf("%.0f", rep.DeliveriesPerSec), "p99_ms", fmt.Sprintf("%.3f", rep.Latency.P99),
				"reconnects", rep.Reconnects, "gaps", rep.Gaps, "dups", rep.Dups}
		},
		Summarize: summarize, Markdown: WriteMarkdown, Conclusion: conclusion,
	}.Run()
}

// rep is one repetition in s: fresh rooms, the workers connect their
// users, then the mix over one window and a drain. It returns the Rep as
// far as it got.
func (c Config) rep(ctx context.Context, s *runner.Session[*report]) (Rep, error) {
	var rep Rep
	l := c.Load
	var rooms []string
	for i := range l.Rooms {
		rooms = append(rooms, RoomName(i))
	}
	if err := chatframe.CreateRooms(ctx, s.URL, rooms); err != nil {
		return rep, fmt.Errorf("create rooms: %w", err)
	}
	lo := 0
	err := s.StartWorkers("chat-worker", func(i int, src net.IP) ([]string, bool) {
		share := runner.Share(l.Users, l.Clients, i)
		frac := float64(share) / float64(l.Users)
		wc := workerConfig{WorkerFlags: runner.WorkerFlags{Src: src, URL: s.URL}, lo: lo, hi: lo + share, rooms: l.Rooms, roomsPerUser: l.RoomsPerUser,
			publishRate: l.PublishRate * frac, reconnectRate: l.ReconnectRate * frac, typingEvery: l.TypingEvery,
			readEvery: l.ReadEvery, warmup: c.Warmup, duration: c.Duration, drain: c.Drain}
		lo += share
		return wc.args(), true
	})
	if err != nil {
		return rep, err
	}
	var problems []string
	err = s.AwaitReady(ctx, 3*time.Minute, func(src string, rd *report) {
		rep.Users += rd.Users
		if rd.LastError != "" {
			problems = append(problems, src+": "+rd.LastError)
		}
	})
	if err != nil {
		return rep, err
	}
	if len(problems) > 0 {
		return rep, fmt.Errorf("setup: %s", strings.Join(problems, "; "))
	}
	m, err := s.Measure(ctx, c.Warmup, c.Duration)
	if err != nil {
		return rep, err
	}
	u := m.Usage()
	rep.ServerCPUCores, rep.OtherCPUCores, rep.ServerRSS = u.ServerCPUCores, u.Other(), u.ServerRSS
	lastSeqs := map[string][]uint64{}
	h := hist.New()
	late, err := s.Finish(ctx, c.Drain+c.Duration+time.Minute, func(fin *report) {
		rep.Counts.add(fin.Counts)
		for r, s := range fin.LastSeqs {
			lastSeqs[r] = append(lastSeqs[r], s...)
		}
		if fin.Hist != nil {
			h.Merge(fin.Hist)
		}
	})
	if err != nil {
		return rep, err
	}
	problems = append(problems, late...)
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
