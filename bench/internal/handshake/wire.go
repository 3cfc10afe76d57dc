package handshake

import "github.com/switchboard-chat/switchboard/bench/internal/hist"

// The controller/worker protocol: one JSON object per line. A worker starts
// with its share of the load in its flags and reports "ready"; the
// controller sends "go" with the start time; the worker runs the window,
// reports "finished" and exits on "quit" or EOF, after "bye".

const (
	opGo   = "go"
	opQuit = "quit"

	evReady    = "ready"
	evFinished = "finished"
	evBye      = "bye"
)

type command struct {
	Op            string `json:"op"`
	StartUnixNano int64  `json:"start_unix_nano,omitempty"`
}

type report struct {
	Event string `json:"event"`
	Pid   int    `json:"pid,omitempty"`
	Src   string `json:"src,omitempty"`

	Counts
	LateStartNS int64           `json:"late_start_ns,omitempty"`
	Upgrade     *hist.Histogram `json:"upgrade,omitempty"` // ns, connections completed in the window
	Cycle       *hist.Histogram `json:"cycle,omitempty"`
}

// Counts is what workers add up.
type Counts struct {
	Completed      uint64 `json:"completed"`       // full cycles completed in the window
	CompletedTotal uint64 `json:"completed_total"` // including warmup
	DialErrors     uint64 `json:"dial_errors"`     // connect or upgrade failed
	EchoErrors     uint64 `json:"echo_errors"`     // upgraded, but the echo or close failed
	WrongSize      uint64 `json:"wrong_size"`
	Missed         uint64 `json:"missed"` // open loop: due connections never started (no goroutine free by the end)
	LastError      string `json:"last_error,omitempty"`
}

func (c *Counts) add(o Counts) {
	c.Completed += o.Completed
	c.CompletedTotal += o.CompletedTotal
	c.DialErrors += o.DialErrors
	c.EchoErrors += o.EchoErrors
	c.WrongSize += o.WrongSize
	c.Missed += o.Missed
	if o.LastError != "" {
		c.LastError = o.LastError
	}
}
