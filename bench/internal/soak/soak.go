// Package soak runs switchboard for a long time under mixed chat load with
// churn and records whether anything grows: RSS, heap, goroutines, open
// descriptors, and live publish-to-delivery p99 over time. At the end it checks
// that no acknowledged message was lost (every member saw every seq of its
// room, across reconnects with since) and that no descriptor leaked (the
// server's fd count returns to its idle level once every client is gone).
//
// One process drives every client (a goroutine each, gorilla/websocket):
// the scenario is about the server's steadiness, not its peak throughput.
package soak

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/proc"
	"github.com/switchboard-chat/switchboard/bench/internal/procfs"
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// Config is the soak's knobs (flags of `swsoak`).
type Config struct {
	Repo, ServerBin, ServerArgs string
	Duration, Interval          time.Duration
	Clients, Rooms              int
	Rate                        float64 // publishes per second per client
	Churn                       float64 // share of clients reconnecting each interval
	Out                         string  // report path without extension
}

// Sample is the server's state at one moment.
type Sample struct {
	At         float64 `json:"at_s"`
	RSS        uint64  `json:"rss_bytes"`
	Heap       uint64  `json:"heap_alloc_bytes"` // after a forced GC
	Goroutines int64   `json:"goroutines"`
	FDs        int     `json:"fds"`
	Conns      int64   `json:"conns"`
	Delivered  uint64  `json:"delivered"`
	P99ms      float64 `json:"p99_ms"`
}

// Result is one soak run.
type Result struct {
	Config    Config          `json:"config"`
	Command   string          `json:"command"`
	Commit    string          `json:"commit"`
	Machine   sysinfo.Machine `json:"machine"`
	Started   time.Time       `json:"started"`
	Samples   []Sample        `json:"samples"`
	IdleFDs   int             `json:"idle_fds"`
	FinalFDs  int             `json:"final_fds"`
	Published uint64          `json:"published"`
	Acked     uint64          `json:"acked"`
	Lost      uint64          `json:"lost"`
	Dups      uint64          `json:"dups"`
	Reconnect uint64          `json:"reconnects"`
	Errors    []string        `json:"errors"`
}

// Run parses flags and runs one soak.
func Run(args []string) error {
	var c Config
	fs := flag.NewFlagSet("swsoak", flag.ContinueOnError)
	fs.StringVar(&c.Repo, "repo", ".", "repository root (for the commit in the report)")
	fs.StringVar(&c.ServerBin, "server-bin", "bin/switchboard", "switchboard binary")
	fs.StringVar(&c.ServerArgs, "server-args", "serve --auth none", "server arguments (--addr and --admin-addr are added)")
	fs.DurationVar(&c.Duration, "duration", 30*time.Minute, "how long to run the load")
	fs.DurationVar(&c.Interval, "interval", 10*time.Second, "sampling interval")
	fs.IntVar(&c.Clients, "clients", 500, "chat clients")
	fs.IntVar(&c.Rooms, "rooms", 25, "rooms, clients spread evenly")
	fs.Float64Var(&c.Rate, "rate", 0.5, "publishes per second per client")
	fs.Float64Var(&c.Churn, "churn", 0.05, "share of clients that disconnect and rejoin with since each interval")
	fs.StringVar(&c.Out, "out", "bench/results/soak", "report path without extension (.md, .svg, .json)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.Clients < c.Rooms || c.Rooms < 1 || c.Rate <= 0 || c.Interval <= 0 || c.Duration < c.Interval {
		return errors.New("swsoak: need clients >= rooms >= 1, rate > 0, duration >= interval > 0")
	}
	res, err := run(c, args)
	if res != nil {
		if werr := writeReport(c.Out, res); werr != nil {
			return errors.Join(err, werr) // the run's own error first
		}
		fmt.Printf("soak: report %s.md\n", c.Out)
	}
	return err
}

func run(c Config, args []string) (*Result, error) {
	ctx := context.Background()
	addr, admin, err := target.Addrs()
	if err != nil {
		return nil, err
	}
	sargs := append(strings.Fields(c.ServerArgs), "--addr", addr, "--admin-addr", admin)
	cmd := exec.Command(c.ServerBin, sargs...)
	cmd.Stderr = os.Stderr
	srv, err := proc.Start("switchboard", cmd)
	if err != nil {
		return nil, err
	}
	defer srv.Stop(10 * time.Second)
	if err := target.WaitHealthy(ctx, "http://"+addr+"/healthz", 30*time.Second, func() error {
		if srv.Exited() {
			return fmt.Errorf("exited: %v", srv.Err())
		}
		return nil
	}); err != nil {
		return nil, err
	}
	adm := target.NewAdmin(admin)
	res := &Result{Config: c, Commit: sysinfo.GitCommit(c.Repo), Machine: sysinfo.ReadMachine(), Started: time.Now().UTC(),
		Command: "swsoak " + sysinfo.ShellQuote(args)}
	// One admin request first: its keep-alive connection to the admin
	// listener is part of the idle state the end is compared with.
	if _, err := adm.Stats(ctx); err != nil {
		return nil, err
	}
	res.IdleFDs, _ = procfs.CountFDs(srv.Pid())

	l := &load{cfg: c, url: "ws://" + addr + "/ws", rooms: make([]roomState, c.Rooms), hist: hist.New(),
		quiet: make(chan struct{})}
	for i := range c.Clients {
		l.clients = append(l.clients, &client{l: l, id: i, room: fmt.Sprintf("soak-%d", i%c.Rooms)})
	}
	if err := l.setup(); err != nil {
		return res, err
	}
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, cl := range l.clients {
		wg.Add(1)
		go func() { defer wg.Done(); cl.loop(stop) }()
	}
	defer func() { // on an early return too
		select {
		case <-stop:
		default:
			close(stop)
		}
	}()
	tick := time.NewTicker(c.Interval)
	for time.Since(start) < c.Duration {
		<-tick.C
		s := Sample{At: time.Since(start).Seconds()}
		// A GC first (a few ms on this heap, every interval): a leak shows in
		// the live heap and in RSS, not hidden in GC's sawtooth.
		if err := adm.GC(ctx); err != nil {
			l.errorf("POST /debug/gc: %v", err)
		}
		if st, err := procfs.ReadStatus(srv.Pid()); err == nil {
			s.RSS = st.VmRSS
		}
		s.FDs, _ = procfs.CountFDs(srv.Pid())
		if st, err := adm.Stats(ctx); err == nil {
			s.Heap, s.Goroutines, s.Conns = st.HeapAlloc, st.Goroutines, st.Conns
		}
		s.Delivered, s.P99ms = l.takeInterval()
		res.Samples = append(res.Samples, s)
		fmt.Printf("soak: %5.0fs rss %6.1f MiB heap %6.1f MiB goroutines %d fds %d conns %d delivered %d p99 %.1f ms\n",
			s.At, mib(s.RSS), mib(s.Heap), s.Goroutines, s.FDs, s.Conns, s.Delivered, s.P99ms)
		l.churn()
		if srv.Exited() {
			return res, fmt.Errorf("server exited: %v", srv.Err())
		}
	}
	tick.Stop()
	l.finish(res)
	close(stop)
	for _, cl := range l.clients {
		cl.kick()
	}
	wg.Wait()
	// Every client is gone: the server must be back to its idle fd count.
	if _, err := adm.WaitConns(ctx, 0, 30*time.Second); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	res.FinalFDs, _ = procfs.CountFDs(srv.Pid())
	return res, nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// roomState is what the publishers of one room had acknowledged.
type roomState struct {
	mu     sync.Mutex
	maxAck uint64
}

type load struct {
	cfg     Config
	url     string
	clients []*client
	rooms   []roomState

	mu        sync.Mutex
	hist      *hist.Histogram
	quiet     chan struct{} // closed: publishing ends
	delivered uint64
	published uint64
	acked     uint64
	dups      uint64
	gaps      uint64
	reconnect uint64
	errs      []string
}

func (l *load) errorf(format string, args ...any) {
	l.mu.Lock()
	if len(l.errs) < 20 {
		l.errs = append(l.errs, fmt.Sprintf(format, args...))
	}
	l.mu.Unlock()
}

// setup creates the rooms. A connection may send 20 messages a second
// (burst 40) by default, and a rate_limited answer carries no ref, so the
// creates go in windows of createWindow a second, each waiting for its
// answers; any refusal fails the run instead of leaving a room uncreated.
func (l *load) setup() error {
	c, _, err := websocket.DefaultDialer.Dial(l.url+"?user=soak-admin", nil)
	if err != nil {
		return err
	}
	defer c.Close()
	const createWindow = 15
	deadline := time.Now().Add(time.Duration(l.cfg.Rooms/10+30) * time.Second)
	for first := 0; first < l.cfg.Rooms; first += createWindow {
		window := min(createWindow, l.cfg.Rooms-first)
		started := time.Now()
		for i := first; i < first+window; i++ {
			if err := c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"create","room":"soak-%d"}`, i)); err != nil {
				return err
			}
		}
		c.SetReadDeadline(deadline)
		for n := 0; n < window; {
			_, p, err := c.ReadMessage()
			if err != nil {
				return fmt.Errorf("creating rooms: %w", err)
			}
			var f struct{ Type, Code string }
			if json.Unmarshal(p, &f) != nil {
				continue
			}
			switch {
			case f.Type == "created", f.Type == "error" && f.Code == "exists":
				n++
			case f.Type == "error":
				return fmt.Errorf("creating rooms: %s", p)
			}
		}
		if first+window < l.cfg.Rooms {
			time.Sleep(time.Until(started.Add(time.Second)))
		}
	}
	return nil
}

// takeInterval returns the deliveries (live and replayed) and the p99 of
// live ones since the last call.
func (l *load) takeInterval() (uint64, float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, p99 := l.delivered, float64(l.hist.Quantile(0.99))/1e6
	l.delivered, l.hist = 0, hist.New()
	return d, p99
}

// churn asks a random share of the clients to reconnect (each rejoins
// with since = the last seq it saw).
func (l *load) churn() {
	for _, cl := range l.clients {
		if rand.Float64() < l.cfg.Churn {
			cl.kick()
		}
	}
}

// finish stops publishing, waits until every member has seen its room's
// last acked seq (members that were reconnecting come back and replay
// with since), and totals the counts: an acked seq a member never saw is
// a lost message.
func (l *load) finish(res *Result) {
	close(l.quiet)
	deadline := time.Now().Add(2 * time.Minute)
	for _, cl := range l.clients {
		want := l.room(cl.room).maxAckLoad()
		for cl.lastSeq() < want && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if got := cl.lastSeq(); got < want {
			l.mu.Lock()
			l.gaps += want - got
			l.mu.Unlock()
			l.errorf("client %d saw %s up to %d, acked up to %d", cl.id, cl.room, got, want)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	res.Published, res.Acked, res.Lost, res.Dups, res.Reconnect = l.published, l.acked, l.gaps, l.dups, l.reconnect
	res.Errors = append(res.Errors, l.errs...)
}

func (l *load) room(name string) *roomState {
	var i int
	fmt.Sscanf(name, "soak-%d", &i)
	return &l.rooms[i]
}

func (r *roomState) maxAckLoad() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxAck
}

// client is one member: it publishes at the configured rate and checks
// that its room's seqs arrive contiguous, across its own reconnects.
type client struct {
	l    *load
	id   int
	room string

	mu   sync.Mutex
	conn *websocket.Conn
	last uint64 // last seq seen in the room
	n    int    // messages published
	// liveFrom is the first seq delivered live in this session: the
	// joined frame's seq + 1. Messages below it are the replay of what
	// the client missed while away; their delay is the time away, not the
	// server's, so they stay out of the latency figure.
	liveFrom uint64
}

func (c *client) lastSeq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *client) kick() {
	c.mu.Lock()
	if c.conn != nil {
		c.conn.Close()
	}
	c.mu.Unlock()
}

// loop connects, joins (with since after the first time), reads until the
// connection ends, and reconnects until stop.
func (c *client) loop(stop chan struct{}) {
	first := true
	for {
		select {
		case <-stop:
			return
		default:
		}
		if err := c.session(stop); err != nil {
			select {
			case <-stop:
				return
			default:
			}
			if !first {
				c.l.mu.Lock()
				c.l.reconnect++
				c.l.mu.Unlock()
			}
			time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		}
		first = false
	}
}

func (c *client) session(stop chan struct{}) error {
	h := http.Header{}
	conn, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("%s?user=u%d", c.l.url, c.id), h)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.conn = conn
	since := c.last
	c.liveFrom = math.MaxUint64 // until joined says where live delivery starts
	c.mu.Unlock()
	defer conn.Close()
	// Rooms start empty, so even the first join replays from seq 0.
	join := fmt.Sprintf(`{"type":"join","room":%q,"since":%d}`, c.room, since)
	var wmu sync.Mutex
	write := func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	if err := write([]byte(join)); err != nil {
		return err
	}
	done := make(chan struct{})
	defer close(done)
	go c.publish(write, done, stop)
	for {
		conn.SetReadDeadline(time.Now().Add(60 * time.Second))
		_, p, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		c.handle(p)
	}
}

// publish sends messages at the configured rate (exponential gaps) until
// the session or the soak ends.
func (c *client) publish(write func([]byte) error, done, stop chan struct{}) {
	for {
		wait := time.Duration(rand.ExpFloat64() / c.l.cfg.Rate * float64(time.Second))
		select {
		case <-done:
			return
		case <-stop:
			return
		case <-c.l.quiet:
			return
		case <-time.After(wait):
		}
		c.mu.Lock()
		c.n++
		id := fmt.Sprintf("u%d-%d", c.id, c.n)
		c.mu.Unlock()
		if write(fmt.Appendf(nil, `{"type":"publish","room":%q,"id":%q,"body":{"t":%d}}`, c.room, id, time.Now().UnixNano())) != nil {
			return
		}
		c.l.mu.Lock()
		c.l.published++
		c.l.mu.Unlock()
	}
}

type frame struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Seq  uint64 `json:"seq"`
	Code string `json:"code"`
	Body struct {
		T int64 `json:"t"`
	} `json:"body"`
}

func (c *client) handle(p []byte) {
	var f frame
	if json.Unmarshal(p, &f) != nil {
		c.l.errorf("invalid JSON from the server: %.100s", p)
		return
	}
	switch f.Type {
	case "ack":
		r := c.l.room(f.Room)
		r.mu.Lock()
		r.maxAck = max(r.maxAck, f.Seq)
		r.mu.Unlock()
		c.l.mu.Lock()
		c.l.acked++
		c.l.mu.Unlock()
	case "reset":
		c.l.errorf("client %d got reset in %s at seq %d", c.id, f.Room, f.Seq)
	case "joined":
		c.mu.Lock()
		c.liveFrom = f.Seq + 1
		c.mu.Unlock()
	case "message":
		lat := time.Since(time.Unix(0, f.Body.T))
		c.mu.Lock()
		live := f.Seq >= c.liveFrom
		switch {
		case f.Seq <= c.last:
			c.l.mu.Lock()
			c.l.dups++
			c.l.mu.Unlock()
		case f.Seq > c.last+1:
			c.l.mu.Lock()
			c.l.gaps += f.Seq - c.last - 1
			c.l.mu.Unlock()
			c.l.errorf("client %d: gap in %s from %d to %d", c.id, f.Room, c.last, f.Seq)
		}
		c.last = max(c.last, f.Seq)
		c.mu.Unlock()
		c.l.mu.Lock()
		c.l.delivered++
		if live {
			c.l.hist.Record(lat.Nanoseconds())
		}
		c.l.mu.Unlock()
	case "error":
		if f.Code != "rate_limited" {
			c.l.errorf("client %d: error frame %.200s", c.id, p)
		}
	}
}
