package echo

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/evloop"
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/wsclient"
	"github.com/switchboard-chat/switchboard/bench/internal/wsframe"
)

// workerConfig is one worker's share of the load.
type workerConfig struct {
	runner.WorkerFlags
	dial     runner.WorkerDialing
	conns    int
	size     int
	inflight int
	rate     float64 // messages/s over this worker; 0 = closed loop
	warmup   time.Duration
	duration time.Duration
	loops    int
}

func (c workerConfig) args() []string {
	return append(c.WorkerFlags.Args(), "--conns", fmt.Sprint(c.conns), "--size", fmt.Sprint(c.size),
		"--inflight", fmt.Sprint(c.inflight), "--rate", fmt.Sprint(c.rate), "--warmup", c.warmup.String(),
		"--duration", c.duration.String(), "--loops", fmt.Sprint(c.loops), "--dial-concurrency", fmt.Sprint(c.dial.Concurrency))
}

func parseWorkerConfig(args []string) (workerConfig, error) {
	var c workerConfig
	fs := flag.NewFlagSet("echo-worker", flag.ContinueOnError)
	c.WorkerFlags.Register(fs, "WebSocket URL, e.g. ws://127.0.0.1:8080/echo")
	c.dial.Register(fs)
	fs.IntVar(&c.conns, "conns", 1, "connections")
	fs.IntVar(&c.size, "size", 64, "message payload bytes")
	fs.IntVar(&c.inflight, "inflight", 1, "closed loop: messages in flight per connection")
	fs.Float64Var(&c.rate, "rate", 0, "open loop: messages/s over this worker; 0 = closed loop")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "not counted")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured, after the warmup")
	fs.IntVar(&c.loops, "loops", 1, "event loops (goroutines) in this worker")
	if err := runner.Parse(fs, args, &c.WorkerFlags, &c.dial); err != nil {
		return c, err
	}
	if c.conns < 1 || c.size < 0 || c.inflight < 1 || c.rate < 0 || c.loops < 1 {
		return c, errors.New("--conns, --inflight, --loops must be positive; --size, --rate not negative")
	}
	c.loops = min(c.loops, c.conns)
	return c, nil
}

// RunWorker is `swload echo-worker`: it dials its connections, waits for
// the controller's "go", drives the echo load and reports what it measured.
func RunWorker(args []string, stdin io.Reader, stdout io.Writer) error {
	cfg, err := parseWorkerConfig(args)
	if err != nil {
		return err
	}
	var loops []*loop
	return runner.Worker[*report]{
		Src: cfg.Src.String(),
		Setup: func() (*report, error) {
			d := wsclient.Dialer{Source: cfg.Src, Timeout: cfg.dial.Timeout}
			fds, dialErrors, lastErr := evloop.DialAll(d, slices.Repeat([]string{cfg.URL}, cfg.conns), cfg.dial.Concurrency)
			var err error
			if loops, err = buildLoops(cfg, fds); err != nil {
				return nil, err
			}
			ready := &report{Conns: len(fds), DialErrors: dialErrors}
			if lastErr != nil {
				ready.LastError = lastErr.Error()
			}
			return ready, nil
		},
		Run: func(start time.Time) *report {
			time.Sleep(time.Until(start))
			return runLoops(loops, schedule{warmupEnd: cfg.warmup, end: cfg.warmup + cfg.duration})
		},
		Close: func() {
			for _, l := range loops {
				l.close()
			}
			loops = nil
		},
	}.Serve(stdin, stdout)
}

// buildLoops spreads the connections over cfg.loops loops, and the open
// loop rate in proportion to each loop's connections.
func buildLoops(cfg workerConfig, fds []evloop.Dialed) ([]*loop, error) {
	n := min(cfg.loops, len(fds))
	shares := make([][]evloop.Dialed, n)
	for i, d := range fds {
		shares[i%n] = append(shares[i%n], d)
	}
	frame := wsframe.AppendClientFrame(nil, wsframe.OpBinary, echoPayload(cfg.size))
	var loops []*loop
	for i, share := range shares {
		rate := 0.0
		if cfg.rate > 0 {
			rate = cfg.rate * float64(len(share)) / float64(len(fds))
		}
		l, err := newLoop(share, frame, cfg.size, cfg.inflight, rate)
		if err != nil {
			for _, done := range loops {
				done.close()
			}
			for _, rest := range shares[i+1:] {
				for _, d := range rest {
					closeFD(d.FD)
				}
			}
			return nil, err
		}
		loops = append(loops, l)
	}
	return loops, nil
}

// runLoops runs every loop on its own goroutine from now and merges what
// they measured into the "finished" report.
func runLoops(loops []*loop, sch schedule) *report {
	rep := &report{Hist: hist.New()}
	// Monotonic from here: the loops measure offsets from base.
	base := time.Now()
	stats := make([]loopStats, len(loops))
	var wg sync.WaitGroup
	for i, l := range loops {
		wg.Go(func() { stats[i] = l.run(base, sch) })
	}
	wg.Wait()
	for _, s := range stats {
		rep.Sent += s.Sent
		rep.Received += s.Received
		rep.ReceivedTotal += s.ReceivedTotal
		rep.Outstanding += s.Outstanding
		rep.WrongSize += s.WrongSize
		rep.ConnsLost += s.ConnsLost
		if s.LastConnError != "" {
			rep.LastConnError = s.LastConnError
		}
		rep.MaxSendLagNS = max(rep.MaxSendLagNS, int64(s.MaxSendLag))
		rep.Hist.Merge(s.Hist)
	}
	return rep
}
