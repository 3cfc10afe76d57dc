package idle

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/proc"
)

// workerProc is the controller's handle on one idle-worker process.
type workerProc struct {
	child   *proc.Child
	src     string
	stdin   io.WriteCloser
	reports chan report
	readErr chan error
}

func startWorker(ctx context.Context, src, url string, conc int) (*workerProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "idle-worker", "--src", src, "--url", url, "--dial-concurrency", strconv.Itoa(conc))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	child, err := proc.Start("idle-worker "+src, cmd)
	if err != nil {
		return nil, err
	}
	w := &workerProc{child: child, src: src, stdin: stdin, reports: make(chan report, 4), readErr: make(chan error, 1)}
	go w.readLoop(stdout)
	rep, err := w.receive(ctx, 10*time.Second)
	if err != nil {
		w.quit()
		return nil, err
	}
	if rep.Event != evReady {
		w.quit()
		return nil, fmt.Errorf("worker %s: first report is %q, want %q", src, rep.Event, evReady)
	}
	return w, nil
}

func (w *workerProc) readLoop(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var rep report
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			w.readErr <- fmt.Errorf("worker %s: bad report %q: %w", w.src, sc.Text(), err)
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

func (w *workerProc) receive(ctx context.Context, timeout time.Duration) (report, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case rep := <-w.reports:
		return rep, nil
	case err := <-w.readErr:
		return report{}, err
	case <-t.C:
		return report{}, fmt.Errorf("worker %s: no answer within %s", w.src, timeout)
	case <-ctx.Done():
		return report{}, ctx.Err()
	}
}

func (w *workerProc) request(ctx context.Context, c command, timeout time.Duration) (report, error) {
	if err := w.send(c); err != nil {
		return report{}, err
	}
	return w.receive(ctx, timeout)
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
