package echo

import (
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
)

// report is what an echo worker writes over runner's protocol: "ready"
// once its connections are up, then "finished" after the window.
type report struct {
	runner.Header

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
	Hist          *hist.Histogram `json:"hist,omitempty"`
}
