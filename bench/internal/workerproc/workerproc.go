// Package workerproc is the controller's side of a swload worker process:
// it starts `swload <sub> ...` as a child, writes JSON commands to its
// stdin one per line and reads its JSON reports, one per line, from its
// stdout.
package workerproc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/proc"
)

// Proc is the controller's handle on one worker process whose reports are
// of type R.
type Proc[R any] struct {
	child   *proc.Child
	src     string
	event   func(R) string
	stdin   io.WriteCloser
	reports chan R
	readErr chan error
}

// Start starts `swload sub args...` for the worker sending from src and
// returns at once. event names a report's event, for Expect.
func Start[R any](sub, src string, args []string, event func(R) string) (*Proc[R], error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{sub}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	child, err := proc.Start(sub+" "+src, cmd)
	if err != nil {
		return nil, err
	}
	w := &Proc[R]{child: child, src: src, event: event, stdin: stdin, reports: make(chan R, 4), readErr: make(chan error, 1)}
	go w.readLoop(stdout)
	return w, nil
}

// Src is the worker's source address, which names it in messages.
func (w *Proc[R]) Src() string { return w.src }

// Pid is the worker's process id.
func (w *Proc[R]) Pid() int { return w.child.Pid() }

func (w *Proc[R]) readLoop(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 16<<20) // a report may carry a histogram
	for sc.Scan() {
		var rep R
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			w.readErr <- fmt.Errorf("worker %s: bad report: %w", w.src, err)
			return
		}
		w.reports <- rep
	}
	err := sc.Err()
	if err == nil {
		err = io.EOF
	}
	w.readErr <- fmt.Errorf("worker %s: output ended: %w", w.src, err)
}

// Send writes one command.
func (w *Proc[R]) Send(c any) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := w.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("worker %s: %w", w.src, err)
	}
	return nil
}

// Receive waits for the next report, whatever its event.
func (w *Proc[R]) Receive(ctx context.Context, timeout time.Duration) (R, error) {
	return w.receive(ctx, timeout, "no answer")
}

// Expect waits for the next report, which must be of event want.
func (w *Proc[R]) Expect(ctx context.Context, want string, timeout time.Duration) (R, error) {
	rep, err := w.receive(ctx, timeout, fmt.Sprintf("no %q", want))
	if err == nil && w.event(rep) != want {
		return rep, fmt.Errorf("worker %s: got %q, want %q", w.src, w.event(rep), want)
	}
	return rep, err
}

func (w *Proc[R]) receive(ctx context.Context, timeout time.Duration, none string) (R, error) {
	var zero R
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case rep := <-w.reports:
		return rep, nil
	case err := <-w.readErr:
		return zero, err
	case <-t.C:
		return zero, fmt.Errorf("worker %s: %s within %s", w.src, none, timeout)
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Request sends c and waits for the report that answers it.
func (w *Proc[R]) Request(ctx context.Context, c any, timeout time.Duration) (R, error) {
	if err := w.Send(c); err != nil {
		var zero R
		return zero, err
	}
	return w.Receive(ctx, timeout)
}

// Quit sends quit, which asks the worker to close its connections and
// exit, then makes sure it has: closing stdin alone also ends it, and Stop
// escalates to SIGKILL.
func (w *Proc[R]) Quit(quit any) {
	_ = w.Send(quit)
	_ = w.stdin.Close()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-w.child.Done():
	case <-t.C:
	}
	_ = w.child.Stop(3 * time.Second)
}

// Commands is the worker's side: it returns a function that reads the next
// JSON command the controller wrote to stdin, one per line, and gives quit
// at EOF (the controller is gone or done).
func Commands[C any](stdin io.Reader, quit C) func() (C, error) {
	cmds := bufio.NewScanner(stdin)
	return func() (C, error) {
		var c C
		if !cmds.Scan() {
			if err := cmds.Err(); err != nil {
				return c, err
			}
			return quit, nil
		}
		if err := json.Unmarshal(cmds.Bytes(), &c); err != nil {
			return c, fmt.Errorf("bad command %q: %w", cmds.Text(), err)
		}
		return c, nil
	}
}
