package idle

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/runnertest"
)

// echoServer is a gorilla server that can drop all its connections.
type echoServer struct {
	*httptest.Server
	pongs atomic.Int64

	mu    sync.Mutex
	conns []*websocket.Conn
}

func newEchoServer(t testing.TB) *echoServer {
	t.Helper()
	s := &echoServer{}
	up := websocket.Upgrader{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		defer s.forget(c)
		c.SetPongHandler(func(string) error { s.pongs.Add(1); return nil })
		// Ping right away: the worker must answer with a pong.
		_ = c.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *echoServer) forget(c *websocket.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.conns {
		if x == c {
			s.conns = append(s.conns[:i], s.conns[i+1:]...)
			return
		}
	}
}

// dropOne closes one live connection with a close frame.
func (s *echoServer) dropOne() {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conns[0]
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"), time.Now().Add(time.Second))
}

// workerDriver runs RunWorker in-process behind pipes, as the controller
// would.
type workerDriver struct{ *runnertest.Pipe[*report] }

func startWorkerInProcess(t testing.TB, url string) workerDriver {
	t.Helper()
	p := runnertest.Start[*report](t, func(stdin io.Reader, stdout io.Writer) error {
		return RunWorker([]string{"--src", "127.0.0.2", "--url", url, "--dial-concurrency", "4"}, stdin, stdout)
	})
	p.Next(runner.EvReady)
	return workerDriver{p}
}

// do sends c and returns the answer, which must be of event want.
func (d workerDriver) do(c command, want string) *report {
	d.Send(c)
	return d.Next(want)
}

func TestWorkerRampDropQuit(t *testing.T) {
	srv := newEchoServer(t)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	d := startWorkerInProcess(t, url)

	rep := d.do(command{Op: opRamp, Target: 20, TimeoutMS: 10000}, evRamped)
	if rep.Held != 20 || rep.Target != 20 || rep.DialErrors != 0 {
		t.Fatalf("ramp up: %+v", rep)
	}

	// Every connection was pinged on arrival and must have answered.
	deadline := time.Now().Add(5 * time.Second)
	for srv.pongs.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the pongs arrive on the server's goroutines
	}
	if n := srv.pongs.Load(); n != 20 {
		t.Fatalf("%d pongs, want 20", n)
	}

	// A connection the server closes is counted as dropped, with the
	// reason, and not silently replaced.
	srv.dropOne()
	deadline = time.Now().Add(5 * time.Second)
	for rep.Dropped == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling the worker's count; there is no event to wait on
		rep = d.do(command{Op: opStatus}, evStatus)
	}
	if rep.Held != 19 || rep.Dropped != 1 || !strings.Contains(rep.LastDropError, "closed") {
		t.Fatalf("status after drop: %+v", rep)
	}

	// The next ramp makes up for it, and ramping down closes the surplus.
	if rep = d.do(command{Op: opRamp, Target: 21, TimeoutMS: 10000}, evRamped); rep.Held != 21 {
		t.Fatalf("ramp after drop: %+v", rep)
	}
	if rep = d.do(command{Op: opRamp, Target: 5, TimeoutMS: 10000}, evRamped); rep.Held != 5 || rep.Dropped != 1 {
		t.Fatalf("ramp down: %+v", rep)
	}

	if rep = d.do(command{Op: opQuit}, evBye); rep.Held != 0 {
		t.Errorf("quit: %+v", rep)
	}
	if err := d.Wait(); err != nil {
		t.Errorf("worker returned %v", err)
	}
}

func TestWorkerDialErrorsReported(t *testing.T) {
	// Nothing listens on port 1: every dial is refused, and the ramp must
	// say so rather than hang or pretend.
	d := startWorkerInProcess(t, "ws://127.0.0.1:1/echo")
	rep := d.do(command{Op: opRamp, Target: 3, TimeoutMS: 5000}, evRamped)
	if rep.Held != 0 || rep.DialErrors == 0 || rep.LastError == "" {
		t.Errorf("ramp against nothing: %+v", rep)
	}
	if err := d.Wait(); err != nil { // EOF means quit
		t.Errorf("worker returned %v", err)
	}
}
