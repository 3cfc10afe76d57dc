package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/workerproc"
	"github.com/switchboard-chat/switchboard/bench/internal/wsclient"
)

// workerConfig is one worker's share of the load: members [memberLo,
// memberHi) and the publishers whose index i has i % clients == worker.
type workerConfig struct {
	src         net.IP
	url         string // ws://host:port/ws, without the query
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
	dialConc    int
	dialTimeout time.Duration
}

func (c workerConfig) args() []string {
	pubs := ""
	for i, p := range c.pubs {
		if i > 0 {
			pubs += ","
		}
		pubs += fmt.Sprint(p)
	}
	return []string{"--src", c.src.String(), "--url", c.url, "--room", c.room, "--rooms", fmt.Sprint(c.rooms),
		"--total-publishers", fmt.Sprint(c.publishers),
		"--member-lo", fmt.Sprint(c.memberLo), "--member-hi", fmt.Sprint(c.memberHi), "--users", fmt.Sprint(c.users), "--publishers", pubs,
		"--rate", fmt.Sprint(c.rate), "--warmup", c.warmup.String(), "--duration", c.duration.String(),
		"--drain", c.drain.String(), "--join-timeout", c.joinTimeout.String(), "--dial-concurrency", fmt.Sprint(c.dialConc)}
}

func parseWorkerConfig(args []string) (workerConfig, error) {
	var c workerConfig
	fs := flag.NewFlagSet("fanout-worker", flag.ContinueOnError)
	src := fs.String("src", "127.0.0.2", "loopback source address to dial from")
	fs.StringVar(&c.url, "url", "", "chat WebSocket URL without query, e.g. ws://127.0.0.1:8080/ws")
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
	fs.IntVar(&c.dialConc, "dial-concurrency", 32, "dials in flight at once")
	fs.DurationVar(&c.dialTimeout, "dial-timeout", 10*time.Second, "bound on TCP connect plus handshake")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.src = net.ParseIP(*src)
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
	case c.src == nil || !c.src.IsLoopback():
		return c, fmt.Errorf("--src %q is not a loopback address", *src)
	case c.url == "":
		return c, errors.New("--url is required")
	case c.memberLo < 0 || c.memberHi < c.memberLo || c.rate < 0 || c.dialConc < 1 || c.rooms < 1 || c.publishers < 1:
		return c, errors.New("bad --member-lo/--member-hi, --rate, --rooms, --total-publishers or --dial-concurrency")
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
	if _, err := sysinfo.RaiseNofile(); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE: %w", err)
	}
	enc := json.NewEncoder(stdout)
	next := workerproc.Commands(stdin, command{Op: opQuit})

	t0 := time.Now()
	fds, dialErrors, lastErr := dialAll(cfg)
	l, err := newLoop(fds, cfg.rate)
	if err != nil {
		return err
	}
	defer func() {
		if l != nil {
			l.close()
		}
	}()
	members, pubs, joinErr := l.join(time.Now().Add(cfg.joinTimeout), 500*time.Millisecond)
	rep := report{Event: evJoined, Pid: os.Getpid(), Src: cfg.src.String(), Members: members, Publishers: pubs,
		DialErrors: dialErrors, SetupNS: int64(time.Since(t0)), Presence: l.presence}
	switch {
	case joinErr != nil:
		rep.LastError = joinErr.Error()
		if l.stats.LastConnError != "" {
			rep.LastError += " (last: " + l.stats.LastConnError + ")"
		}
	case lastErr != nil:
		rep.LastError = lastErr.Error()
	}
	if err := enc.Encode(rep); err != nil {
		return err
	}

	cmd, err := next()
	if err != nil || cmd.Op == opQuit {
		return err
	}
	if cmd.Op != opGo {
		return fmt.Errorf("unexpected op %q", cmd.Op)
	}
	setup := l.stats // presence and other traffic before the start is not part of the run
	l.stats = Counts{ServerClosed: setup.ServerClosed, CloseCodes: setup.CloseCodes, ConnsLost: setup.ConnsLost,
		LastConnError: setup.LastConnError}
	start := cmd.StartUnixNano
	fin := report{Event: evFinished, Src: cfg.src.String()}
	if late := time.Now().UnixNano() - start; late > 0 {
		fin.LateStartNS = late
	}
	warmupEnd := start + int64(cfg.warmup)
	end := warmupEnd + int64(cfg.duration)
	l.run(window{start: start, warmupEnd: warmupEnd, end: end, drainEnd: end + int64(cfg.drain)})
	fin.Counts, fin.Hist = l.stats, l.hist
	if err := enc.Encode(fin); err != nil {
		return err
	}
	for {
		cmd, err := next()
		if err != nil {
			return err
		}
		if cmd.Op == opQuit {
			break
		}
	}
	l.close()
	l = nil
	return enc.Encode(report{Event: evBye, Src: cfg.src.String()})
}

// dialAll opens the worker's member and publisher connections, each tried
// up to three times, and detaches them from the Go runtime for the loop.
func dialAll(cfg workerConfig) (fds []detached, dialErrors int, lastErr error) {
	type job struct {
		user      string
		publisher int
		rooms     []string
	}
	var jobs []job
	for _, p := range cfg.pubs {
		var rooms []string
		for _, r := range publisherRooms(p, cfg.publishers, cfg.rooms) {
			rooms = append(rooms, roomName(cfg.room, r, cfg.rooms))
		}
		jobs = append(jobs, job{fmt.Sprintf("p%d", p), p, rooms})
	}
	for i := cfg.memberLo; i < cfg.memberHi; i++ {
		u := i
		if cfg.users > 0 {
			u = i % cfg.users
		}
		jobs = append(jobs, job{fmt.Sprintf("m%d", u), -1, []string{roomName(cfg.room, memberRoom(i, cfg.rooms), cfg.rooms)}})
	}
	d := wsclient.Dialer{Source: cfg.src, Timeout: cfg.dialTimeout}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.dialConc)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			u := cfg.url + "?user=" + url.QueryEscape(j.user)
			for range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), cfg.dialTimeout)
				c, err := d.Dial(ctx, u)
				cancel()
				if err == nil {
					var fd int
					var buffered []byte
					if fd, buffered, err = c.Detach(); err == nil {
						mu.Lock()
						fds = append(fds, detached{fd: fd, buffered: buffered, publisher: j.publisher, rooms: j.rooms})
						mu.Unlock()
						return
					}
				}
				mu.Lock()
				dialErrors++
				lastErr = err
				mu.Unlock()
				time.Sleep(50 * time.Millisecond) // do not hammer a refusing server
			}
		}()
	}
	wg.Wait()
	return fds, dialErrors, lastErr
}
