package handshake

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/wsclient"
)

// workerConfig is one worker's share of the load; its URL is the echo
// endpoint.
type workerConfig struct {
	runner.WorkerFlags
	concurrency int     // churning goroutines
	rate        float64 // connections/s over this worker; 0 = closed loop
	size        int
	warmup      time.Duration
	duration    time.Duration
	timeout     time.Duration // bound on one whole cycle
}

func (c workerConfig) args() []string {
	return append(c.WorkerFlags.Args(), "--concurrency", fmt.Sprint(c.concurrency),
		"--rate", fmt.Sprint(c.rate), "--size", fmt.Sprint(c.size), "--warmup", c.warmup.String(),
		"--duration", c.duration.String(), "--timeout", c.timeout.String())
}

func parseWorkerConfig(args []string) (workerConfig, error) {
	var c workerConfig
	fs := flag.NewFlagSet("handshake-worker", flag.ContinueOnError)
	c.WorkerFlags.Register(fs, "WebSocket echo URL, e.g. ws://127.0.0.1:8080/echo")
	fs.IntVar(&c.concurrency, "concurrency", 8, "connections in flight at once")
	fs.Float64Var(&c.rate, "rate", 0, "open loop: connections/s started by this worker; 0 = closed loop")
	fs.IntVar(&c.size, "size", 64, "bytes of the one message each connection sends")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "not counted")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured, after the warmup")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "bound on one connection's whole cycle")
	if err := runner.Parse(fs, args, &c.WorkerFlags); err != nil {
		return c, err
	}
	if c.concurrency < 1 || c.rate < 0 || c.size < 0 || c.size > 1<<20 || c.duration <= 0 {
		return c, errors.New("--concurrency and --duration must be positive, --rate not negative, --size within 0..1 MiB")
	}
	return c, nil
}

// RunWorker is `swload handshake-worker`: it waits for "go", churns
// connections through the window and reports what it measured.
func RunWorker(args []string, stdin io.Reader, stdout io.Writer) error {
	cfg, err := parseWorkerConfig(args)
	if err != nil {
		return err
	}
	return runner.Worker[*report]{
		Src:   cfg.Src.String(),
		Setup: func() (*report, error) { return &report{}, nil },
		Run:   func(start time.Time) *report { return churn(cfg, start) },
	}.Serve(stdin, stdout)
}

// churner is one worker's run; its fields are guarded by mu.
type churner struct {
	cfg     workerConfig
	dialer  wsclient.Dialer
	payload []byte

	mu      sync.Mutex
	counts  Counts
	upgrade *hist.Histogram
	cycle   *hist.Histogram
}

// churn runs the window from start and returns the "finished" report.
func churn(cfg workerConfig, start time.Time) *report {
	time.Sleep(time.Until(start))
	c := &churner{cfg: cfg, dialer: wsclient.Dialer{Source: cfg.Src, Timeout: cfg.timeout},
		payload: make([]byte, cfg.size), upgrade: hist.New(), cycle: hist.New()}
	_, _ = rand.Read(c.payload)
	base := time.Now()
	warmupEnd, end := base.Add(cfg.warmup), base.Add(cfg.warmup+cfg.duration)

	var wg sync.WaitGroup
	if cfg.rate == 0 {
		for range cfg.concurrency {
			wg.Go(func() {
				for time.Now().Before(end) {
					c.one(time.Now(), warmupEnd, end)
				}
			})
		}
	} else {
		// Open loop: due times go into a queue the goroutines drain; a
		// connection's latency counts from when it was due.
		interval := time.Duration(float64(time.Second) / cfg.rate)
		due := make(chan time.Time, 1<<16)
		for range cfg.concurrency {
			wg.Go(func() {
				for d := range due {
					if time.Now().After(end) {
						c.add(Counts{Missed: 1})
						continue
					}
					c.one(d, warmupEnd, end)
				}
			})
		}
		for t := base; t.Before(end); t = t.Add(interval) {
			if w := time.Until(t); w > 0 {
				time.Sleep(w)
			}
			select {
			case due <- t:
			default:
				c.add(Counts{Missed: 1}) // the queue is full: far behind
			}
		}
		close(due)
	}
	wg.Wait()
	return &report{Counts: c.counts, Upgrade: c.upgrade, Cycle: c.cycle}
}

func (c *churner) add(o Counts) {
	c.mu.Lock()
	c.counts.add(o)
	c.mu.Unlock()
}

// one runs one connection's cycle, timed from due: dial and upgrade, one
// message and its echo, close handshake.
func (c *churner) one(due, warmupEnd, end time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout)
	defer cancel()
	conn, err := c.dialer.Dial(ctx, c.cfg.URL)
	upgraded := time.Now()
	if err != nil {
		c.add(Counts{DialErrors: 1, LastError: "dial: " + err.Error()})
		time.Sleep(10 * time.Millisecond) // do not spin on a refusing server
		return
	}
	deadline := due.Add(c.cfg.timeout)
	_ = conn.SetDeadline(deadline)
	var n int
	if err = conn.WriteMessage(ws.OpBinary, c.payload); err == nil {
		n, err = conn.ReadMessage()
	}
	if err == nil {
		err = conn.CloseHandshake(deadline)
	} else {
		conn.Close()
	}
	done := time.Now()
	if err != nil {
		c.add(Counts{EchoErrors: 1, LastError: "echo or close: " + err.Error()})
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n != len(c.payload) {
		c.counts.WrongSize++
	}
	c.counts.CompletedTotal++
	if !done.Before(warmupEnd) && done.Before(end) {
		c.counts.Completed++
		c.upgrade.Record(int64(upgraded.Sub(due)))
		c.cycle.Record(int64(done.Sub(due)))
	}
}
