package fanout

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

// workerProc is the controller's handle on one fanout-worker process.
type workerProc struct {
	child   *proc.Child
	src     string
	stdin   io.WriteCloser
	reports chan report
	readErr chan error
}

// startWorker starts `swload fanout-worker` with its share of the load. It
// returns at once; the worker reports "joined" once every connection has.
func startWorker(cfg workerConfig) (*workerProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{"fanout-worker"}, cfg.args()...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	child, err := proc.Start("fanout-worker "+cfg.src.String(), cmd)
	if err != nil {
		return nil, err
	}
	w := &workerProc{child: child, src: cfg.src.String(), stdin: stdin, reports: make(chan report, 4), readErr: make(chan error, 1)}
	go w.readLoop(stdout)
	return w, nil
}

func (w *workerProc) readLoop(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 16<<20) // a report carries a histogram
	for sc.Scan() {
		var rep report
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

func (w *workerProc) send(c command) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := w.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("worker %s: %w", w.src, err)
	}
	return nil
}

// receive waits for the next report, which must be of event want.
func (w *workerProc) receive(ctx context.Context, want string, timeout time.Duration) (report, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case rep := <-w.reports:
		if rep.Event != want {
			return rep, fmt.Errorf("worker %s: got %q, want %q", w.src, rep.Event, want)
		}
		return rep, nil
	case err := <-w.readErr:
		return report{}, err
	case <-t.C:
		return report{}, fmt.Errorf("worker %s: no %q within %s", w.src, want, timeout)
	case <-ctx.Done():
		return report{}, ctx.Err()
	}
}

// quit asks the worker to close its connections and exit, then makes sure
// it has: closing stdin alone also ends it, and Stop escalates to SIGKILL.
func (w *workerProc) quit() {
	_ = w.send(command{Op: opQuit})
	_ = w.stdin.Close()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-w.child.Done():
	case <-t.C:
	}
	_ = w.child.Stop(3 * time.Second)
}
