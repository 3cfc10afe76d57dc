package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/procfs"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
	"github.com/switchboard-chat/switchboard/bench/internal/workerproc"
)

const (
	// startDelay is how far ahead of "go" the common start instant lies:
	// time for every worker to read the command.
	startDelay = 300 * time.Millisecond
	// lateStart is how late a worker may see the start before the
	// repetition counts it as a problem.
	lateStart = 100 * time.Millisecond
)

// Session is one repetition's processes: a freshly started server and the
// worker processes. W is a pointer to the workers' report type.
type Session[W Reporter] struct {
	Server  *Server
	Admin   target.Admin
	URL     string                // ws://<server address><--path>
	Workers []*workerproc.Proc[W] // in order of their source addresses
	Log     *slog.Logger          // the repetition's

	flags *Flags
}

// NewSession is a session of the server and workers f describes, with
// nothing started yet. Close stops whatever started, however far the
// session got.
func NewSession[W Reporter](log *slog.Logger, f *Flags) *Session[W] {
	return &Session[W]{Log: log, flags: f}
}

// StartServer starts the server (serverBin being its absolute path) with
// its output going to logFile, and waits for its /healthz.
func (s *Session[W]) StartServer(ctx context.Context, serverBin string, logFile io.Writer) error {
	f := s.flags
	srv, err := StartServer(ctx, s.Log, f.Name, serverBin, f.ServerArgs, logFile, f.Out, f.HealthWait)
	s.Server = srv
	if srv != nil {
		s.Admin = target.NewAdmin(srv.AdminAddr)
		s.URL = "ws://" + srv.Addr + f.Path
	}
	return err
}

// StartWorkers starts `swload <sub>` for each of the --clients workers,
// from consecutive source addresses counting up from --src-base. args
// gives worker i, sending from src, its flags, or false when it has
// nothing to do (it then takes no address). StartWorkers returns at once;
// the workers report when they are ready.
func (s *Session[W]) StartWorkers(sub string, args func(i int, src net.IP) ([]string, bool)) error {
	src := s.flags.SrcBase
	for i := range s.flags.Clients {
		a, ok := args(i, src.AsSlice())
		if !ok {
			continue
		}
		w, err := workerproc.Start(sub, src.String(), a, event[W])
		if err != nil {
			return err
		}
		s.Workers = append(s.Workers, w)
		src = src.Next()
	}
	return nil
}

func event[W Reporter](r W) string { return r.Head().Event }

// AwaitReady waits for every worker's "ready", one after the other, at
// most timeout each, and hands each report to each when it is not nil.
func (s *Session[W]) AwaitReady(ctx context.Context, timeout time.Duration, each func(src string, rep W)) error {
	for _, w := range s.Workers {
		rep, err := w.Expect(ctx, EvReady, timeout)
		if err != nil {
			return err
		}
		if each != nil {
			each(w.Src(), rep)
		}
	}
	return nil
}

// Measure sends every worker "go" with one start instant a moment ahead,
// waits out warmup and measures the CPU over the duration that follows
// and the server's memory at its end.
func (s *Session[W]) Measure(ctx context.Context, warmup, duration time.Duration) (Measurement, error) {
	var m Measurement
	start := time.Now().Add(startDelay)
	for _, w := range s.Workers {
		if err := w.Send(Command{Op: OpGo, StartUnixNano: start.UnixNano()}); err != nil {
			return m, err
		}
	}
	warmupEnd := start.Add(warmup)
	if err := target.Sleep(ctx, time.Until(warmupEnd)); err != nil {
		return m, err
	}
	pids := []int{s.Server.Child.Pid()}
	for _, w := range s.Workers {
		pids = append(pids, w.Pid())
	}
	var err error
	if m.Window, err = MeasureWindow(ctx, pids, warmupEnd.Add(duration)); err != nil {
		return m, err
	}
	if st, err := procfs.ReadStatus(pids[0]); err == nil {
		m.Server = st
	}
	return m, nil
}

// Finish waits for every worker's "finished", one after the other, at
// most timeout each, and hands each report to each. It returns, in words,
// the workers that saw the start too late for their window to line up
// with the others: problems of the repetition.
func (s *Session[W]) Finish(ctx context.Context, timeout time.Duration, each func(rep W)) (late []string, err error) {
	for _, w := range s.Workers {
		rep, err := w.Expect(ctx, EvFinished, timeout)
		if err != nil {
			return late, err
		}
		each(rep)
		if ns := rep.Head().LateStartNS; ns > int64(lateStart) {
			late = append(late, fmt.Sprintf("%s started %s late", w.Src(), time.Duration(ns)))
		}
	}
	return late, nil
}

// Close stops the server first, so that its sockets close first and
// TIME_WAIT lands on its side (and a chat server does not tell every
// member about the others leaving), then the workers. Every wait is
// bounded.
func (s *Session[W]) Close() {
	if s.Server != nil {
		if err := s.Server.Child.Stop(5 * time.Second); err != nil {
			s.Log.Warn("stopping server", "err", err)
		}
	}
	for _, w := range s.Workers {
		w.Quit(Command{Op: OpQuit})
	}
	s.Workers = nil
}
