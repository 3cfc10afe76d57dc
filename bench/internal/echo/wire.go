package echo

import "github.com/switchboard-chat/switchboard/bench/internal/hist"

// The controller/worker protocol: one JSON object per line. A worker is
// started with its whole share of the load in its flags, dials it, and
// reports "ready". The controller then sends "go" with a start time common
// to every worker; the worker measures, reports "finished", keeps its
// connections open (the controller samples the server meanwhile) until
// "quit" or EOF on stdin, closes everything and reports "bye".

// Command ops.
const (
	opGo   = "go"
	opQuit = "quit"
)

// Report events.
const (
	evReady    = "ready"
	evFinished = "finished"
	evBye      = "bye"
)

type command struct {
	Op string `json:"op"`
	// StartUnixNano is the wall-clock start of the run, shared by every
	// worker so their windows line up with the controller's CPU window.
	StartUnixNano int64 `json:"start_unix_nano,omitempty"`
}

type report struct {
	Event string `json:"event"`
	Pid   int    `json:"pid,omitempty"`
	Src   string `json:"src,omitempty"`

	// ready
	Conns      int    `json:"conns"`
	DialErrors int    `json:"dial_errors,omitempty"`
	LastError  string `json:"last_error,omitempty"`

	// finished
	Sent          uint64          `json:"sent,omitempty"`
	Received      uint64          `json:"received,omitempty"`
	ReceivedTotal uint64          `json:"received_total,omitempty"`
	Outstanding   uint64          `json:"outstanding,omitempty"`
	WrongSize     uint64          `json:"wrong_size,omitempty"`
	ConnsLost     int             `json:"conns_lost,omitempty"`
	LastConnError string          `json:"last_conn_error,omitempty"`
	MaxSendLagNS  int64           `json:"max_send_lag_ns,omitempty"`
	LateStartNS   int64           `json:"late_start_ns,omitempty"` // how late the worker saw the start time
	Hist          *hist.Histogram `json:"hist,omitempty"`
}
