package chat

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/bench/internal/chatframe"
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/wsclient"
)

// workerConfig is one worker's share: users [lo, hi) of the run. Its URL
// is the chat endpoint without the query.
type workerConfig struct {
	runner.WorkerFlags
	lo, hi        int
	rooms         int     // rooms in the run
	roomsPerUser  int     // rooms each user joins
	publishRate   float64 // publishes/s over this worker
	reconnectRate float64 // reconnects/s over this worker
	typingEvery   int     // a typing frame before every n-th publish
	readEvery     int     // a read receipt after every n-th message received
	warmup        time.Duration
	duration      time.Duration
	drain         time.Duration
}

func (c workerConfig) args() []string {
	return append(c.WorkerFlags.Args(), "--lo", fmt.Sprint(c.lo), "--hi", fmt.Sprint(c.hi),
		"--rooms", fmt.Sprint(c.rooms), "--rooms-per-user", fmt.Sprint(c.roomsPerUser),
		"--publish-rate", fmt.Sprint(c.publishRate), "--reconnect-rate", fmt.Sprint(c.reconnectRate),
		"--typing-every", fmt.Sprint(c.typingEvery), "--read-every", fmt.Sprint(c.readEvery),
		"--warmup", c.warmup.String(), "--duration", c.duration.String(), "--drain", c.drain.String())
}

func parseWorkerConfig(args []string) (workerConfig, error) {
	var c workerConfig
	fs := flag.NewFlagSet("chat-worker", flag.ContinueOnError)
	c.WorkerFlags.Register(fs, "chat WebSocket URL without query, e.g. ws://127.0.0.1:8080/ws")
	fs.IntVar(&c.lo, "lo", 0, "first user index")
	fs.IntVar(&c.hi, "hi", 0, "one past the last user index")
	fs.IntVar(&c.rooms, "rooms", 1, "rooms in the run")
	fs.IntVar(&c.roomsPerUser, "rooms-per-user", 3, "rooms each user joins")
	fs.Float64Var(&c.publishRate, "publish-rate", 10, "publishes/s over this worker, open loop")
	fs.Float64Var(&c.reconnectRate, "reconnect-rate", 1, "reconnects/s over this worker")
	fs.IntVar(&c.typingEvery, "typing-every", 2, "send typing before every n-th publish (0: never)")
	fs.IntVar(&c.readEvery, "read-every", 5, "send a read receipt after every n-th message received (0: never)")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "not counted")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured")
	fs.DurationVar(&c.drain, "drain", 5*time.Second, "longest wait for deliveries after the window")
	if err := runner.Parse(fs, args, &c.WorkerFlags); err != nil {
		return c, err
	}
	switch {
	case c.lo < 0 || c.hi <= c.lo || c.rooms < 1 || c.roomsPerUser < 1 || c.roomsPerUser > c.rooms:
		return c, errors.New("bad --lo/--hi, --rooms or --rooms-per-user")
	case c.publishRate < 0 || c.reconnectRate < 0 || c.typingEvery < 0 || c.readEvery < 0:
		return c, errors.New("rates and -every counts must not be negative")
	}
	return c, nil
}

// userRooms is the rooms user i joins: roomsPerUser rooms spread over all,
// so every room gets about users × roomsPerUser / rooms members.
func userRooms(i, rooms, perUser int) []int {
	out := make([]int, 0, perUser)
	for j := range perUser {
		out = append(out, (i*perUser+j)%rooms)
	}
	return out
}

// RoomName is room i's id.
func RoomName(i int) string { return "chat-" + strconv.Itoa(i) }

// client is one user's connection and what it has seen. The reader
// goroutine owns the seq state; writes go through mu.
type client struct {
	w     *worker
	user  string
	rooms []string

	mu      sync.Mutex // guards conn writes, conn itself and pending
	conn    *wsclient.Conn
	pending map[string]string // publish frames by id, sent and not yet acked
	joined  map[string]bool   // rooms answered since the last (re)connect; reader only

	lastSeq map[string]uint64 // reader only, except after the run
	resync  map[string]bool   // a reset came: the next joined sets lastSeq; reader only
	reading chan struct{}     // closed when the current reader returns
	down    atomic.Bool       // reconnecting: skip its publishes
	recv    int               // messages received, for read receipts; reader only
}

// worker is one chat-worker process's run.
type worker struct {
	cfg     workerConfig
	dialer  wsclient.Dialer
	clients []*client
	window  struct{ warmupEnd, end time.Time }
	started atomic.Bool
	lastMsg atomic.Int64 // unix ns of the last frame received, for the drain

	mu     sync.Mutex // guards the fields below
	counts Counts
	hist   *hist.Histogram
}

func (w *worker) count(f func(c *Counts)) {
	w.mu.Lock()
	f(&w.counts)
	w.mu.Unlock()
}

// RunWorker is `swload chat-worker`.
func RunWorker(args []string, stdin io.Reader, stdout io.Writer) error {
	cfg, err := parseWorkerConfig(args)
	if err != nil {
		return err
	}
	w := &worker{cfg: cfg, dialer: wsclient.Dialer{Source: cfg.Src, Timeout: 10 * time.Second}, hist: hist.New()}
	return runner.Worker[*report]{
		Src: cfg.Src.String(),
		Setup: func() (*report, error) {
			ready := &report{}
			if err := w.connectAll(); err != nil {
				ready.LastError = err.Error()
			}
			ready.Users = len(w.clients)
			return ready, nil
		},
		Run:   w.run,
		Close: w.closeAll,
	}.Serve(stdin, stdout)
}

// connectAll dials every user and joins its rooms, waiting for every
// joined.
func (w *worker) connectAll() error {
	for i := w.cfg.lo; i < w.cfg.hi; i++ {
		c := &client{w: w, user: "u" + strconv.Itoa(i), lastSeq: map[string]uint64{}, resync: map[string]bool{}, pending: map[string]string{}}
		for _, r := range userRooms(i, w.cfg.rooms, w.cfg.roomsPerUser) {
			c.rooms = append(c.rooms, RoomName(r))
		}
		w.clients = append(w.clients, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(w.clients))
	sem := make(chan struct{}, 32)
	for _, c := range w.clients {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := c.connect(false); err != nil {
				errs <- fmt.Errorf("%s: %w", c.user, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs // the first, or nil
}

// connect dials, starts the reader and joins every room, with since=the
// last seq seen on a reconnect, and waits until every room is joined.
func (c *client) connect(resume bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.w.dialer.Dial(ctx, c.w.cfg.URL+"?user="+url.QueryEscape(c.user))
	if err != nil {
		return err
	}
	// The joins are built before the reader starts: it owns the seq state
	// from then on.
	var joins []string
	for _, room := range c.rooms {
		f := `{"type":"join","room":` + strconv.Quote(room) + `}`
		if resume && !c.resync[room] {
			f = `{"type":"join","room":` + strconv.Quote(room) + `,"since":` + strconv.FormatUint(c.lastSeq[room], 10) + `}`
		}
		joins = append(joins, f)
	}
	joinedAll := make(chan struct{})
	c.mu.Lock()
	c.conn = conn
	c.joined = map[string]bool{}
	c.reading = make(chan struct{})
	c.mu.Unlock()
	go c.read(conn, joinedAll)
	for _, f := range joins {
		if err := c.send(f); err != nil {
			return err
		}
	}
	select {
	case <-joinedAll:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("not joined to every room within 10 s")
	}
}

func (c *client) send(frame string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return errors.New("not connected")
	}
	return c.conn.WriteMessage(ws.OpText, []byte(frame))
}

// read handles the server's frames until the connection ends.
func (c *client) read(conn *wsclient.Conn, joinedAll chan struct{}) {
	defer close(c.reading)
	var buf []byte
	for {
		p, err := conn.ReadData(buf)
		if err != nil {
			if !c.down.Load() && !errors.Is(err, net.ErrClosed) {
				c.w.count(func(k *Counts) { k.ConnsLost++; k.LastError = c.user + ": " + err.Error() })
			}
			return
		}
		buf = p
		now := time.Now()
		c.w.lastMsg.Store(now.UnixNano())
		c.frame(p, now, joinedAll)
	}
}

// frame accounts for one server frame.
func (c *client) frame(p []byte, now time.Time, joinedAll chan struct{}) {
	w := c.w
	room := chatframe.String(p, `"room":`)
	switch string(chatframe.Type(p)) {
	case "joined":
		seq, _ := chatframe.Int(p, `"seq":`)
		if _, seen := c.lastSeq[room]; !seen || c.resync[room] {
			c.lastSeq[room] = seq // a fresh join: live from here
			delete(c.resync, room)
		}
		c.joined[room] = true
		if len(c.joined) == len(c.rooms) {
			close(joinedAll)
		}
	case "message":
		seq, ok1 := chatframe.Int(p, `"seq":`)
		t, ok2 := chatframe.Int(p, `"t":`)
		last := c.lastSeq[room]
		inWindow := w.started.Load() && !now.Before(w.window.warmupEnd) && now.Before(w.window.end)
		w.mu.Lock()
		switch {
		case !ok1 || !ok2:
			w.counts.BadFrames++
		case seq == last+1:
		case seq <= last:
			w.counts.Dups++
		default:
			w.counts.Gaps += seq - last - 1
		}
		if ok1 && seq > last {
			c.lastSeq[room] = seq
		}
		w.counts.DeliveredTotal++
		if inWindow && ok2 {
			w.counts.Delivered++
			w.hist.Record(max(0, now.UnixNano()-int64(t)))
		}
		w.mu.Unlock()
		c.recv++
		if w.cfg.readEvery > 0 && c.recv%w.cfg.readEvery == 0 && ok1 {
			if c.send(`{"type":"read","room":`+strconv.Quote(room)+`,"seq":`+strconv.FormatUint(seq, 10)+`}`) == nil {
				w.count(func(k *Counts) { k.Reads++ })
			}
		}
	case "ack":
		c.mu.Lock()
		delete(c.pending, chatframe.String(p, `"id":`))
		c.mu.Unlock()
		inWindow := w.started.Load() && !now.Before(w.window.warmupEnd) && now.Before(w.window.end)
		seq, _ := chatframe.Int(p, `"seq":`)
		w.mu.Lock()
		w.counts.Acks++
		if inWindow {
			w.counts.AcksInWindow++
		}
		w.mu.Unlock()
		w.noteAcked(room, seq)
	case "reset":
		c.resync[room] = true
		w.count(func(k *Counts) { k.Resets++ })
	case "typing":
		w.count(func(k *Counts) { k.TypingRecv++ })
	case "read":
		w.count(func(k *Counts) { k.ReadsRecv++ })
	case "error":
		code := chatframe.String(p, `"code":`)
		w.count(func(k *Counts) { k.Errors++; k.LastError = "error frame: " + code })
	}
}

// noteAcked records the highest seq acked per room, the head every member
// must reach.
func (w *worker) noteAcked(room string, seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.counts.Heads == nil {
		w.counts.Heads = map[string]uint64{}
	}
	w.counts.Heads[room] = max(w.counts.Heads[room], seq)
}

// reconnect drops c's connection the way a client on a flaky network
// would, dials again and resumes every room from the last seq it saw.
func (c *client) reconnect() {
	c.down.Store(true)
	defer c.down.Store(false)
	c.mu.Lock()
	conn, reading := c.conn, c.reading
	c.conn = nil
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
		<-reading
	}
	if err := c.connect(true); err != nil {
		c.w.count(func(k *Counts) { k.ReconnectErrors++; k.LastError = c.user + " reconnect: " + err.Error() })
		return
	}
	// Publishes whose ack the dropped connection never delivered are sent
	// again with the same id, as a client must: the server answers a
	// stored one with its seq and stores a lost one now, never twice.
	c.mu.Lock()
	var retry []string
	for _, f := range c.pending {
		retry = append(retry, f)
	}
	c.mu.Unlock()
	for _, f := range retry {
		if c.send(f) == nil {
			c.w.count(func(k *Counts) { k.Retries++ })
		}
	}
	c.w.count(func(k *Counts) { k.Reconnects++ })
}

// publish sends a publish frame and keeps it until its ack.
func (c *client) publish(id, frame string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return errors.New("not connected")
	}
	c.pending[id] = frame
	return c.conn.WriteMessage(ws.OpText, []byte(frame))
}

// run drives the mix from start: open-loop publishes (with typing before
// some), reconnects at their own rate; then drains and reports.
func (w *worker) run(start time.Time) *report {
	fin := &report{}
	time.Sleep(time.Until(start))
	w.window.warmupEnd, w.window.end = start.Add(w.cfg.warmup), start.Add(w.cfg.warmup+w.cfg.duration)
	w.started.Store(true)
	var wg sync.WaitGroup
	if w.cfg.reconnectRate > 0 {
		wg.Go(func() {
			interval := time.Duration(float64(time.Second) / w.cfg.reconnectRate)
			k := 0
			for t := start.Add(interval / 2); t.Before(w.window.end); t = t.Add(interval) {
				time.Sleep(time.Until(t))
				// A stride through the users so that reconnects and
				// publishes do not pick the same ones in step.
				w.clients[(k*7+3)%len(w.clients)].reconnect()
				k++
			}
		})
	}
	if w.cfg.publishRate > 0 {
		interval := time.Duration(float64(time.Second) / w.cfg.publishRate)
		k := 0
		for due := start; due.Before(w.window.end); due = due.Add(interval) {
			time.Sleep(time.Until(due))
			c := w.clients[k%len(w.clients)]
			room := c.rooms[(k/len(w.clients))%len(c.rooms)]
			k++
			if c.down.Load() {
				w.count(func(k *Counts) { k.SkippedDown++ })
				continue
			}
			if w.cfg.typingEvery > 0 && k%w.cfg.typingEvery == 0 {
				_ = c.send(`{"type":"typing","room":` + strconv.Quote(room) + `}`)
			}
			id := w.cfg.Src.String() + "-" + strconv.Itoa(k)
			err := c.publish(id, `{"type":"publish","room":`+strconv.Quote(room)+`,"id":"`+id+`","body":{"t":`+strconv.FormatInt(due.UnixNano(), 10)+`}}`)
			w.count(func(k *Counts) {
				if err != nil {
					k.SkippedDown++
				} else {
					k.Published++
				}
			})
		}
	}
	wg.Wait()
	// Drain: until nothing arrives for 500 ms, or the drain is over.
	drainEnd := time.Now().Add(w.cfg.drain)
	for time.Now().Before(drainEnd) && time.Since(time.Unix(0, w.lastMsg.Load())) < 500*time.Millisecond {
		time.Sleep(50 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	fin.Counts = w.counts
	fin.Hist = w.hist
	fin.LastSeqs = map[string][]uint64{}
	for _, c := range w.clients {
		for _, r := range c.rooms {
			fin.LastSeqs[r] = append(fin.LastSeqs[r], c.lastSeq[r])
		}
	}
	return fin
}

func (w *worker) closeAll() {
	for _, c := range w.clients {
		c.down.Store(true)
		c.mu.Lock()
		if c.conn != nil {
			c.conn.Close()
			c.conn = nil
		}
		c.mu.Unlock()
	}
}
