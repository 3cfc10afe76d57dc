package echo

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/workerproc"
	"github.com/switchboard-chat/switchboard/bench/internal/wsclient"
	"github.com/switchboard-chat/switchboard/bench/internal/wsframe"
)

// workerConfig is one worker's share of the load.
type workerConfig struct {
	src         net.IP
	url         string
	conns       int
	size        int
	inflight    int
	rate        float64 // messages/s over this worker; 0 = closed loop
	warmup      time.Duration
	duration    time.Duration
	loops       int
	dialConc    int
	dialTimeout time.Duration
}

func (c workerConfig) args() []string {
	return []string{"--src", c.src.String(), "--url", c.url, "--conns", fmt.Sprint(c.conns), "--size", fmt.Sprint(c.size),
		"--inflight", fmt.Sprint(c.inflight), "--rate", fmt.Sprint(c.rate), "--warmup", c.warmup.String(),
		"--duration", c.duration.String(), "--loops", fmt.Sprint(c.loops), "--dial-concurrency", fmt.Sprint(c.dialConc)}
}

func parseWorkerConfig(args []string) (workerConfig, error) {
	var c workerConfig
	fs := flag.NewFlagSet("echo-worker", flag.ContinueOnError)
	src := fs.String("src", "127.0.0.2", "loopback source address to dial from")
	fs.StringVar(&c.url, "url", "", "WebSocket URL, e.g. ws://127.0.0.1:8080/echo")
	fs.IntVar(&c.conns, "conns", 1, "connections")
	fs.IntVar(&c.size, "size", 64, "message payload bytes")
	fs.IntVar(&c.inflight, "inflight", 1, "closed loop: messages in flight per connection")
	fs.Float64Var(&c.rate, "rate", 0, "open loop: messages/s over this worker; 0 = closed loop")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "not counted")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured, after the warmup")
	fs.IntVar(&c.loops, "loops", 1, "event loops (goroutines) in this worker")
	fs.IntVar(&c.dialConc, "dial-concurrency", 32, "dials in flight at once")
	fs.DurationVar(&c.dialTimeout, "dial-timeout", 10*time.Second, "bound on TCP connect plus handshake")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.src = net.ParseIP(*src)
	switch {
	case c.src == nil || !c.src.IsLoopback():
		return c, fmt.Errorf("--src %q is not a loopback address", *src)
	case c.url == "":
		return c, errors.New("--url is required")
	case c.conns < 1 || c.size < 0 || c.inflight < 1 || c.rate < 0 || c.loops < 1 || c.dialConc < 1:
		return c, errors.New("--conns, --inflight, --loops, --dial-concurrency must be positive; --size, --rate not negative")
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
	if _, err := sysinfo.RaiseNofile(); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE: %w", err)
	}
	enc := json.NewEncoder(stdout)
	next := workerproc.Commands(stdin, command{Op: opQuit})

	fds, dialErrors, lastErr := dialAll(cfg)
	loops, err := buildLoops(cfg, fds)
	if err != nil {
		return err
	}
	defer func() {
		for _, l := range loops {
			l.close()
		}
	}()
	ready := report{Event: evReady, Pid: os.Getpid(), Src: cfg.src.String(), Conns: len(fds), DialErrors: dialErrors}
	if lastErr != nil {
		ready.LastError = lastErr.Error()
	}
	if err := enc.Encode(ready); err != nil {
		return err
	}

	cmd, err := next()
	if err != nil || cmd.Op == opQuit {
		return err
	}
	if cmd.Op != opGo {
		return fmt.Errorf("unexpected op %q", cmd.Op)
	}
	rep := runLoops(loops, time.Unix(0, cmd.StartUnixNano), schedule{warmupEnd: cfg.warmup, end: cfg.warmup + cfg.duration})
	rep.Src = cfg.src.String()
	if err := enc.Encode(rep); err != nil {
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
	for _, l := range loops {
		l.close()
	}
	loops = nil
	return enc.Encode(report{Event: evBye, Src: cfg.src.String()})
}

// dialAll opens cfg.conns connections, each tried up to three times, and
// detaches them from the Go runtime for the event loops.
func dialAll(cfg workerConfig) (fds []detached, dialErrors int, lastErr error) {
	d := wsclient.Dialer{Source: cfg.src, Timeout: cfg.dialTimeout}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.dialConc)
	for range cfg.conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), cfg.dialTimeout)
				c, err := d.Dial(ctx, cfg.url)
				cancel()
				if err == nil {
					var fd int
					var buffered []byte
					if fd, buffered, err = c.Detach(); err == nil {
						mu.Lock()
						fds = append(fds, detached{fd: fd, buffered: buffered})
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

// buildLoops spreads the connections over cfg.loops loops, and the open
// loop rate in proportion to each loop's connections.
func buildLoops(cfg workerConfig, fds []detached) ([]*loop, error) {
	n := min(cfg.loops, len(fds))
	shares := make([][]detached, n)
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
					closeFD(d.fd)
				}
			}
			return nil, err
		}
		loops = append(loops, l)
	}
	return loops, nil
}

// runLoops waits for start, runs every loop on its own goroutine and merges
// what they measured.
func runLoops(loops []*loop, start time.Time, sch schedule) report {
	rep := report{Event: evFinished, Hist: hist.New()}
	if wait := time.Until(start); wait > 0 {
		time.Sleep(wait)
	} else {
		rep.LateStartNS = int64(-wait)
	}
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
