package idle

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/wsclient"
)

// RunWorker is `swload idle-worker`: it holds WebSocket connections from
// one source address as the controller asks, until stdin closes.
func RunWorker(args []string, stdin io.Reader, stdout io.Writer) error {
	var wf runner.WorkerFlags
	var dial runner.WorkerDialing
	fs := flag.NewFlagSet("idle-worker", flag.ContinueOnError)
	wf.Register(fs, "WebSocket URL to dial, e.g. ws://127.0.0.1:8080/echo")
	dial.Register(fs)
	if err := runner.Parse(fs, args, &wf, &dial); err != nil {
		return err
	}
	if _, err := sysinfo.RaiseNofile(); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE: %w", err)
	}

	w := &worker{
		dialer:      wsclient.Dialer{Source: wf.Src, Timeout: dial.Timeout},
		url:         wf.URL,
		concurrency: dial.Concurrency,
		conns:       make(map[*wsclient.Conn]struct{}),
		src:         wf.Src.String(),
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(report{Header: runner.Header{Event: runner.EvReady, Pid: os.Getpid(), Src: w.src}}); err != nil {
		return err
	}
	defer w.closeAll()

	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		var cmd command
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			return fmt.Errorf("bad command %q: %w", sc.Text(), err)
		}
		var rep report
		switch cmd.Op {
		case opRamp:
			rep = w.ramp(cmd.Target, time.Duration(cmd.TimeoutMS)*time.Millisecond)
		case opStatus:
			rep = w.status(evStatus)
		case opQuit:
			w.closeAll()
			return enc.Encode(w.status(evBye))
		default:
			return fmt.Errorf("unknown op %q", cmd.Op)
		}
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	return sc.Err() // nil on EOF: the controller is gone or done
}

type worker struct {
	dialer      wsclient.Dialer
	url         string
	concurrency int
	src         string

	closing atomic.Bool

	mu            sync.Mutex // guards the fields below
	conns         map[*wsclient.Conn]struct{}
	dropped       int
	lastDropError string
}

func (w *worker) held() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.conns)
}

func (w *worker) status(event string) report {
	w.mu.Lock()
	defer w.mu.Unlock()
	return report{Header: runner.Header{Event: event, Src: w.src}, Held: len(w.conns), Dropped: w.dropped, LastDropError: w.lastDropError}
}

// ramp opens or closes connections until exactly target are held, or the
// timeout or the error budget runs out. It reports what it reached; the
// controller decides whether that is a failure.
func (w *worker) ramp(target int, timeout time.Duration) report {
	start := time.Now()
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	// Ramping down: close the surplus.
	w.mu.Lock()
	for c := range w.conns {
		if len(w.conns) <= target {
			break
		}
		delete(w.conns, c)
		c.Close()
	}
	w.mu.Unlock()

	// An occasional refused dial is retried; a stream of them means the
	// server or the kernel has hit a limit, and more tries only take time.
	need := target - w.held()
	budget := 50 + need/20
	var (
		dialErrors int
		lastError  error
		inflight   int
		results    = make(chan error)
	)
	for {
		for inflight < w.concurrency && w.held()+inflight < target && dialErrors < budget && ctx.Err() == nil {
			inflight++
			go func() { results <- w.dialOne(ctx) }()
		}
		if inflight == 0 {
			break
		}
		if err := <-results; err != nil {
			dialErrors++
			lastError = err
		}
		inflight--
	}
	rep := w.status(evRamped)
	rep.Target = target
	rep.DialErrors = dialErrors
	if lastError != nil {
		rep.LastError = lastError.Error()
	}
	if ctx.Err() != nil && rep.Held != target {
		rep.LastError = fmt.Sprintf("ramp timed out after %s (last dial error: %v)", timeout, lastError)
	}
	rep.ElapsedMS = time.Since(start).Milliseconds()
	return rep
}

func (w *worker) dialOne(ctx context.Context) error {
	c, err := w.dialer.Dial(ctx, w.url)
	if err != nil {
		// Back off a little so a refusing server is not hammered.
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		return err
	}
	w.mu.Lock()
	w.conns[c] = struct{}{}
	w.mu.Unlock()
	go w.hold(c)
	return nil
}

func (w *worker) hold(c *wsclient.Conn) {
	err := c.Hold()
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.conns[c]; !ok {
		return // closed on purpose by ramp or closeAll
	}
	delete(w.conns, c)
	c.Close()
	if !w.closing.Load() {
		w.dropped++
		w.lastDropError = err.Error()
	}
}

func (w *worker) closeAll() {
	w.closing.Store(true)
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.conns {
		delete(w.conns, c)
		c.Close()
	}
}
