package fanout

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/evloop"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/wsclient"
)

// workerConfig is one worker's share of the load: members [memberLo,
// memberHi) and the publishers whose index i has i % clients == worker.
// Its URL is the chat endpoint without the query.
type workerConfig struct {
	runner.WorkerFlags
	dial        runner.WorkerDialing
	room        string // room id prefix (roomName)
	rooms       int    // rooms in the run
	publishers  int    // publishers in the run
	memberLo    int
	memberHi    int
	pubs        []int
	users       int     // member i is user m<i % users>
	rate        float64 // messages/s over this worker's publishers
	warmup      time.Duration
	duration    time.Duration
	drain       time.Duration
	joinTimeout time.Duration
}

func (c workerConfig) args() []string {
	pubs := ""
	for i, p := range c.pubs {
		if i > 0 {
			pubs += ","
		}
		pubs += fmt.Sprint(p)
	}
	return append(c.WorkerFlags.Args(), "--room", c.room, "--rooms", fmt.Sprint(c.rooms),
		"--total-publishers", fmt.Sprint(c.publishers),
		"--member-lo", fmt.Sprint(c.memberLo), "--member-hi", fmt.Sprint(c.memberHi), "--users", fmt.Sprint(c.users), "--publishers", pubs,
		"--rate", fmt.Sprint(c.rate), "--warmup", c.warmup.String(), "--duration", c.duration.String(),
		"--drain", c.drain.String(), "--join-timeout", c.joinTimeout.String(), "--dial-concurrency", fmt.Sprint(c.dial.Concurrency))
}

func parseWorkerConfig(args []string) (workerConfig, error) {
	var c workerConfig
	fs := flag.NewFlagSet("fanout-worker", flag.ContinueOnError)
	c.WorkerFlags.Register(fs, "chat WebSocket URL without query, e.g. ws://127.0.0.1:8080/ws")
	c.dial.Register(fs)
	fs.StringVar(&c.room, "room", "fan", "room id, or prefix of the room ids <room>-<i> when --rooms is over 1")
	fs.IntVar(&c.rooms, "rooms", 1, "rooms in the run; member i joins room i % rooms")
	fs.IntVar(&c.publishers, "total-publishers", 1, "publishers in the run, which share the rooms")
	fs.IntVar(&c.memberLo, "member-lo", 0, "first member index (user m<i>), counting over all rooms")
	fs.IntVar(&c.memberHi, "member-hi", 0, "one past the last member index")
	fs.IntVar(&c.users, "users", 0, "distinct member user names: member i is m<i % users>; 0 = one per member")
	pubs := fs.String("publishers", "", "comma-separated publisher indexes (user p<i>)")
	fs.Float64Var(&c.rate, "rate", 0, "publishes/s over this worker's publishers")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "not counted")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured, after the warmup")
	fs.DurationVar(&c.drain, "drain", 5*time.Second, "longest wait for deliveries after publishing stops")
	fs.DurationVar(&c.joinTimeout, "join-timeout", 2*time.Minute, "bound on every connection's joined")
	if err := runner.Parse(fs, args, &c.WorkerFlags, &c.dial); err != nil {
		return c, err
	}
	if *pubs != "" {
		for _, s := range splitComma(*pubs) {
			var p int
			if _, err := fmt.Sscan(s, &p); err != nil || p < 0 {
				return c, fmt.Errorf("--publishers: bad index %q", s)
			}
			c.pubs = append(c.pubs, p)
		}
	}
	switch {
	case c.memberLo < 0 || c.memberHi < c.memberLo || c.rate < 0 || c.rooms < 1 || c.publishers < 1:
		return c, errors.New("bad --member-lo/--member-hi, --rate, --rooms or --total-publishers")
	case c.memberHi == c.memberLo && len(c.pubs) == 0:
		return c, errors.New("no members and no publishers")
	}
	return c, nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// RunWorker is `swload fanout-worker`: it dials and joins its connections,
// waits for the controller's "go", runs the window and reports.
func RunWorker(args []string, stdin io.Reader, stdout io.Writer) error {
	cfg, err := parseWorkerConfig(args)
	if err != nil {
		return err
	}
	var l *loop
	return runner.Worker[*report]{
		Src: cfg.Src.String(),
		Setup: func() (*report, error) {
			t0 := time.Now()
			jobs := dialJobs(cfg)
			urls := make([]string, len(jobs))
			for i, j := range jobs {
				urls[i] = cfg.URL + "?user=" + url.QueryEscape(j.user)
			}
			d := wsclient.Dialer{Source: cfg.Src, Timeout: cfg.dial.Timeout}
			fds, dialErrors, lastErr := evloop.DialAll(d, urls, cfg.dial.Concurrency)
			var err error
			if l, err = newLoop(fds, jobs, cfg.rate); err != nil {
				return nil, err
			}
			members, pubs, joinErr := l.join(time.Now().Add(cfg.joinTimeout), 500*time.Millisecond)
			rep := &report{Members: members, Publishers: pubs, DialErrors: dialErrors, SetupNS: int64(time.Since(t0)), Presence: l.presence}
			switch {
			case joinErr != nil:
				rep.LastError = joinErr.Error()
				if l.stats.LastConnError != "" {
					rep.LastError += " (last: " + l.stats.LastConnError + ")"
				}
			case lastErr != nil:
				rep.LastError = lastErr.Error()
			}
			return rep, nil
		},
		Run: func(start time.Time) *report {
			setup := l.stats // presence and other traffic before the start is not part of the run
			l.stats = Counts{ServerClosed: setup.ServerClosed, CloseCodes: setup.CloseCodes, ConnsLost: setup.ConnsLost,
				LastConnError: setup.LastConnError}
			warmupEnd := start.UnixNano() + int64(cfg.warmup)
			end := warmupEnd + int64(cfg.duration)
			l.run(window{start: start.UnixNano(), warmupEnd: warmupEnd, end: end, drainEnd: end + int64(cfg.drain)})
			return &report{Counts: l.stats, Hist: l.hist}
		},
		Close: func() {
			if l != nil {
				l.close()
				l = nil
			}
		},
	}.Serve(stdin, stdout)
}

// dialJobs lists the worker's publisher and member connections.
func dialJobs(cfg workerConfig) []dialJob {
	var jobs []dialJob
	for _, p := range cfg.pubs {
		var rooms []string
		for _, r := range publisherRooms(p, cfg.publishers, cfg.rooms) {
			rooms = append(rooms, roomName(cfg.room, r, cfg.rooms))
		}
		jobs = append(jobs, dialJob{fmt.Sprintf("p%d", p), p, rooms})
	}
	for i := cfg.memberLo; i < cfg.memberHi; i++ {
		u := i
		if cfg.users > 0 {
			u = i % cfg.users
		}
		jobs = append(jobs, dialJob{fmt.Sprintf("m%d", u), -1, []string{roomName(cfg.room, memberRoom(i, cfg.rooms), cfg.rooms)}})
	}
	return jobs
}
