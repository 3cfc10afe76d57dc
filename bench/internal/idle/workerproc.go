package idle

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/workerproc"
)

// workerProc is the controller's handle on one idle-worker process.
type workerProc = workerproc.Proc[report]

func reportEvent(r report) string { return r.Event }

// startWorker starts `swload idle-worker` and waits for its "ready".
func startWorker(ctx context.Context, src, url string, conc int) (*workerProc, error) {
	w, err := workerproc.Start("idle-worker", src, []string{"--src", src, "--url", url, "--dial-concurrency", strconv.Itoa(conc)}, reportEvent)
	if err != nil {
		return nil, err
	}
	rep, err := w.Receive(ctx, 10*time.Second)
	if err != nil {
		w.Quit(command{Op: opQuit})
		return nil, err
	}
	if rep.Event != evReady {
		w.Quit(command{Op: opQuit})
		return nil, fmt.Errorf("worker %s: first report is %q, want %q", src, rep.Event, evReady)
	}
	return w, nil
}
