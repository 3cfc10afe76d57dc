package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/workerproc"
)

// Worker is a scenario's worker process: what it does at each step of the
// protocol (wire.go). W is a pointer to the scenario's report type.
type Worker[W Reporter] struct {
	Src string // the source address, which names the worker in reports
	// Setup dials and prepares the load; what it returns goes out as
	// "ready". An error ends the worker before it reports anything.
	Setup func() (W, error)
	// Run measures from start and returns the "finished" report. It is
	// called as soon as "go" arrives: waiting for start is its business.
	Run func(start time.Time) W
	// Close ends every connection, at "quit" or however the worker ends;
	// it may be called twice. Nil when there is nothing to close.
	Close func()
}

// Serve raises RLIMIT_NOFILE and runs the worker's side of the protocol
// over stdin and stdout, filling in the header of every report. EOF on
// stdin counts as "quit".
func (w Worker[W]) Serve(stdin io.Reader, stdout io.Writer) error {
	if _, err := sysinfo.RaiseNofile(); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE: %w", err)
	}
	enc := json.NewEncoder(stdout)
	next := workerproc.Commands(stdin, Command{Op: OpQuit})
	ready, err := w.Setup()
	if err != nil {
		return err
	}
	if w.Close != nil {
		defer w.Close()
	}
	*ready.Head() = Header{Event: EvReady, Pid: os.Getpid(), Src: w.Src}
	if err := enc.Encode(ready); err != nil {
		return err
	}
	cmd, err := next()
	if err != nil || cmd.Op == OpQuit {
		return err
	}
	if cmd.Op != OpGo {
		return fmt.Errorf("unexpected op %q", cmd.Op)
	}
	start := time.Unix(0, cmd.StartUnixNano)
	late := max(0, int64(time.Since(start)))
	fin := w.Run(start)
	*fin.Head() = Header{Event: EvFinished, Src: w.Src, LateStartNS: late}
	if err := enc.Encode(fin); err != nil {
		return err
	}
	for {
		cmd, err := next()
		if err != nil {
			return err
		}
		if cmd.Op == OpQuit {
			break
		}
	}
	if w.Close != nil {
		w.Close()
	}
	return enc.Encode(Header{Event: EvBye, Src: w.Src})
}
