package echo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/runnertest"
)

func timeOf(i int) time.Duration { return time.Duration(i) * time.Microsecond }

// echoServer is an in-process gorilla echo server that pings every
// connection once (the loop must answer) and counts the pongs. A silent
// one reads every message and echoes none.
type echoServer struct {
	*httptest.Server
	silent bool
	mu     sync.Mutex
	pongs  int
	wg     sync.WaitGroup
}

func newEchoServer(t testing.TB) *echoServer { return startEchoServer(t, false) }

func startEchoServer(t testing.TB, silent bool) *echoServer {
	t.Helper()
	s := &echoServer{silent: silent}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.wg.Add(1)
		defer s.wg.Done()
		defer c.Close()
		c.SetPongHandler(func(string) error {
			s.mu.Lock()
			s.pongs++
			s.mu.Unlock()
			return nil
		})
		_ = c.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second))
		for {
			op, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if s.silent {
				continue
			}
			if err := c.WriteMessage(op, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		s.Server.CloseClientConnections()
		s.Server.Close()
		s.wg.Wait()
	})
	return s
}

// runWorkerInProcess runs RunWorker over pipes through one whole
// measurement and returns its "finished" report, with the connections of
// its "ready" report.
func runWorkerInProcess(t *testing.T, args ...string) *report {
	t.Helper()
	ready, fin := runnertest.Measure[*report](t, func(stdin io.Reader, stdout io.Writer) error {
		return RunWorker(args, stdin, stdout)
	})
	fin.Conns = ready.Conns
	return fin
}

func TestWorkerClosedLoop(t *testing.T) {
	srv := newEchoServer(t)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	rep := runWorkerInProcess(t, "--src", "127.0.0.2", "--url", url, "--conns", "8", "--size", "300",
		"--inflight", "2", "--loops", "2", "--warmup", "100ms", "--duration", "400ms")
	if rep.Conns != 8 || rep.ConnsLost != 0 || rep.WrongSize != 0 {
		t.Fatalf("report %+v", rep)
	}
	if rep.Received == 0 || rep.Hist.Count() != rep.Received || rep.ReceivedTotal < rep.Received {
		t.Fatalf("received %d (total %d), histogram holds %d", rep.Received, rep.ReceivedTotal, rep.Hist.Count())
	}
	// Closed loop: every message sent is echoed or still one of the
	// window of 2 per connection.
	if rep.Sent != rep.ReceivedTotal+rep.Outstanding || rep.Outstanding > 16 {
		t.Fatalf("sent %d, received %d, outstanding %d", rep.Sent, rep.ReceivedTotal, rep.Outstanding)
	}
	if rep.Hist.Quantile(0.5) <= 0 || rep.Hist.Max() > int64(time.Second) {
		t.Fatalf("implausible latencies: p50 %d ns, max %d ns", rep.Hist.Quantile(0.5), rep.Hist.Max())
	}
	srv.mu.Lock()
	pongs := srv.pongs
	srv.mu.Unlock()
	if pongs != 8 {
		t.Errorf("%d pongs, want one per connection", pongs)
	}
}

// TestWorkerOpenLoop checks the open loop's accounting, which holds however
// the machine schedules the loop: every message sent is echoed or still
// outstanding, nothing is sent beyond the schedule's slots, and the window
// counts are a part of the whole. When each send happens is the schedule's
// business, tested without a clock in TestOpenLoopCountsLatenessFromDueTime.
func TestWorkerOpenLoop(t *testing.T) {
	srv := newEchoServer(t)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	rep := runWorkerInProcess(t, "--src", "127.0.0.2", "--url", url, "--conns", "4", "--size", "64",
		"--rate", "2000", "--warmup", "100ms", "--duration", "500ms")
	if rep.Conns != 4 || rep.ConnsLost != 0 || rep.WrongSize != 0 {
		t.Fatalf("report %+v", rep)
	}
	// 2000/s over 600 ms is 1200 slots; a late loop sends fewer, never more.
	if rep.Sent == 0 || rep.Sent > 1200 {
		t.Errorf("sent %d, want 1 to 1200 (the schedule's slots)", rep.Sent)
	}
	if rep.Sent != rep.ReceivedTotal+rep.Outstanding {
		t.Errorf("sent %d, received %d, outstanding %d: every message sent is echoed or outstanding",
			rep.Sent, rep.ReceivedTotal, rep.Outstanding)
	}
	if rep.Received > rep.ReceivedTotal || rep.Hist.Count() != rep.Received {
		t.Errorf("received %d in the window (total %d), histogram holds %d", rep.Received, rep.ReceivedTotal, rep.Hist.Count())
	}
}

// TestWorkerOpenLoopDoesNotWaitForEchoes: against a server that never
// echoes, a closed loop stops after --inflight messages per connection; an
// open loop goes on sending its schedule, all of it outstanding.
func TestWorkerOpenLoopDoesNotWaitForEchoes(t *testing.T) {
	srv := startEchoServer(t, true)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	rep := runWorkerInProcess(t, "--src", "127.0.0.2", "--url", url, "--conns", "4", "--size", "64",
		"--rate", "20000", "--warmup", "100ms", "--duration", "500ms")
	if rep.Conns != 4 || rep.ConnsLost != 0 || rep.ReceivedTotal != 0 {
		t.Fatalf("report %+v", rep)
	}
	// More than the 4 a closed loop (--inflight 1) could have in flight:
	// 20000/s makes 5 slots due 250 µs after the start, so this fails only
	// if the loop never woke again in its 600 ms.
	if rep.Sent <= 4 || rep.Sent > 12000 || rep.Outstanding != rep.Sent {
		t.Errorf("sent %d, outstanding %d: want 5 to 12000 sent, all outstanding", rep.Sent, rep.Outstanding)
	}
}

func TestWorkerDialFailureReported(t *testing.T) {
	p := runnertest.Start[*report](t, func(stdin io.Reader, stdout io.Writer) error {
		return RunWorker([]string{"--src", "127.0.0.2", "--url", "ws://127.0.0.1:1/echo", "--conns", "2"}, stdin, stdout)
	})
	rep := p.Next(runner.EvReady)
	if rep.Conns != 0 || rep.DialErrors != 6 || rep.LastError == "" {
		t.Errorf("ready against nothing: %+v", rep)
	}
	if err := p.Wait(); err != nil { // EOF means quit
		t.Errorf("worker returned %v", err)
	}
}
