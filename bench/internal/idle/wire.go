package idle

import "github.com/switchboard-chat/switchboard/bench/internal/runner"

// The controller/worker protocol: one JSON object per line. The controller
// writes commands to a worker's stdin; the worker answers each with exactly
// one report on stdout, and sends one "ready" report when it starts. EOF on
// stdin means quit.

// Command ops.
const (
	opRamp   = "ramp"        // hold exactly Target connections, then report "ramped"
	opStatus = "status"      // report "status" with the current counts
	opQuit   = runner.OpQuit // close everything, report "bye", exit
)

// Report events. The first report is runner.EvReady, and the protocol is
// runner's in that a runner.Session can start and stop idle workers.
const (
	evRamped = "ramped"
	evStatus = "status"
	evBye    = runner.EvBye
)

type command struct {
	Op        string `json:"op"`
	Target    int    `json:"target,omitempty"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"`
}

type report struct {
	runner.Header
	// Target and Held: what was asked and what is open now.
	Target int `json:"target"`
	Held   int `json:"held"`
	// DialErrors counts failed dials during this ramp; LastError is the
	// most recent one.
	DialErrors int    `json:"dial_errors,omitempty"`
	LastError  string `json:"last_error,omitempty"`
	// Dropped counts connections that ended without being asked to, since
	// the worker started.
	Dropped       int    `json:"dropped,omitempty"`
	LastDropError string `json:"last_drop_error,omitempty"`
	ElapsedMS     int64  `json:"elapsed_ms,omitempty"`
}
