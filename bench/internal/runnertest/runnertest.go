// Package runnertest helps test the scenarios built on package runner: it
// runs a worker in-process over pipes, as its controller would drive it,
// serves a peer server in-process for it to load, and fails a test binary
// whose tests leave goroutines behind.
//
// A Pipe belongs to the test goroutine that started it; the worker runs on
// a goroutine of its own until its stdin ends.
package runnertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/peer"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// Main runs m and fails it if goroutines started by the tests (worker
// connections, servers) outlive them. Call it from TestMain.
func Main(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			fmt.Fprintf(os.Stderr, "goroutine leak: %d before, %d after\n%s\n", before, n, buf[:runtime.Stack(buf, true)])
			code = 1
		}
	}
	os.Exit(code)
}

// Pipe is a worker running in-process, seen from the controller's side.
// W is a pointer to the worker's report type.
type Pipe[W runner.Reporter] struct {
	t    testing.TB
	in   *io.PipeWriter
	out  *bufio.Scanner
	done chan error
}

// Start runs work (a scenario's RunWorker with its flags bound) on a
// goroutine, its stdin and stdout being pipes to the returned Pipe. The
// test's cleanup ends it if the test did not.
func Start[W runner.Reporter](t testing.TB, work func(stdin io.Reader, stdout io.Writer) error) *Pipe[W] {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &Pipe[W]{t: t, in: inW, out: bufio.NewScanner(outR), done: make(chan error, 1)}
	p.out.Buffer(nil, 16<<20) // a report may carry a histogram
	go func() {
		err := work(inR, outW)
		outW.Close()
		p.done <- err
	}()
	t.Cleanup(func() {
		inW.Close()
		outR.Close() // a worker blocked on writing a report gives up
	})
	return p
}

// Next reads the worker's next report, which must be of event want.
func (p *Pipe[W]) Next(want string) W {
	p.t.Helper()
	if !p.out.Scan() {
		p.t.Fatalf("worker output ended waiting for %q: %v", want, p.out.Err())
	}
	var rep W
	if err := json.Unmarshal(p.out.Bytes(), &rep); err != nil {
		p.t.Fatalf("worker report %q: %v", p.out.Text(), err)
	}
	if got := rep.Head().Event; got != want {
		p.t.Fatalf("worker reported %q, want %q: %s", got, want, p.out.Text())
	}
	return rep
}

// Send writes one command to the worker: a runner.Command, or the
// scenario's own.
func (p *Pipe[W]) Send(c any) {
	p.t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("writing to the worker: %v", err)
	}
}

// Wait ends the worker's stdin, which it takes as "quit", and returns what
// the worker returned.
func (p *Pipe[W]) Wait() error {
	p.in.Close()
	return <-p.done
}

// Measure drives a worker through one whole measurement: "ready", "go"
// with a start 50 ms ahead, "finished", "quit" and "bye", and fails the
// test unless the worker then returns nil. It returns the ready and
// finished reports.
func Measure[W runner.Reporter](t testing.TB, work func(stdin io.Reader, stdout io.Writer) error) (ready, fin W) {
	t.Helper()
	p := Start[W](t, work)
	ready = p.Next(runner.EvReady)
	p.Send(runner.Command{Op: runner.OpGo, StartUnixNano: time.Now().Add(50 * time.Millisecond).UnixNano()})
	fin = p.Next(runner.EvFinished)
	p.Send(runner.Command{Op: runner.OpQuit})
	p.Next(runner.EvBye)
	if err := p.Wait(); err != nil {
		t.Fatalf("worker returned %v", err)
	}
	return ready, fin
}

// Peer serves a peer server (peer.Gorilla, peer.Gobwas, peer.Nbio)
// in-process on a free loopback port until the test ends, and returns its
// address (host:port) and its App. The test fails unless the server
// answers /healthz, and unless it returns nil when stopped.
func Peer(t testing.TB, serve peer.Transport) (addr string, app *peer.App) {
	t.Helper()
	ports, err := target.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	app = &peer.App{Hub: peer.NewHub(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, addr, app) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("peer server returned %v", err)
		}
	})
	if err := target.WaitHealthy(ctx, "http://"+addr+"/healthz", 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	return addr, app
}
