package handshake

import (
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
)

// report is what a handshake worker writes over runner's protocol: an
// empty "ready" at once, then "finished" after the window.
type report struct {
	runner.Header

	Counts
	Upgrade *hist.Histogram `json:"upgrade,omitempty"` // ns, connections completed in the window
	Cycle   *hist.Histogram `json:"cycle,omitempty"`
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
