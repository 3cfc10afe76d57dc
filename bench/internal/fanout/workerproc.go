package fanout

import "github.com/switchboard-chat/switchboard/bench/internal/workerproc"

// workerProc is the controller's handle on one fanout-worker process.
type workerProc = workerproc.Proc[report]

func reportEvent(r report) string { return r.Event }

// startWorker starts `swload fanout-worker` with its share of the load. It
// returns at once; the worker reports when it is ready to go.
func startWorker(cfg workerConfig) (*workerProc, error) {
	return workerproc.Start("fanout-worker", cfg.src.String(), cfg.args(), reportEvent)
}
