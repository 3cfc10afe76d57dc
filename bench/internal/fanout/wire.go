package fanout

import (
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
)

// report is what a fanout worker writes over runner's protocol: "ready"
// once every connection has joined and the join traffic has gone quiet,
// then "finished" after the window and the drain.
type report struct {
	runner.Header

	// ready
	Members    int    `json:"members"`    // member connections dialed and joined
	Publishers int    `json:"publishers"` // publisher connections dialed and joined
	DialErrors int    `json:"dial_errors,omitempty"`
	LastError  string `json:"last_error,omitempty"`
	SetupNS    int64  `json:"setup_ns,omitempty"` // from the first dial until joined and quiet
	Presence   uint64 `json:"presence,omitempty"` // presence frames received during the setup

	// finished
	Counts
	Hist *hist.Histogram `json:"hist,omitempty"`
}

// Counts is what loops and workers add up. Deliveries are `message` frames
// received by member connections (publishers' own copies are not counted).
type Counts struct {
	Published      uint64      `json:"published,omitempty"`
	Acks           uint64      `json:"acks,omitempty"`
	PublishErrors  uint64      `json:"publish_errors,omitempty"` // error frames sent to publishers
	LastPubError   string      `json:"last_publish_error,omitempty"`
	Delivered      uint64      `json:"delivered,omitempty"`       // in the measured window
	DeliveredTotal uint64      `json:"delivered_total,omitempty"` // from the start to the end of the drain
	Gaps           uint64      `json:"gaps,omitempty"`            // seqs a member skipped
	Dups           uint64      `json:"dups,omitempty"`            // seqs a member saw again or out of order
	BadFrames      uint64      `json:"bad_frames,omitempty"`      // message frames without a seq or t
	ServerClosed   int         `json:"server_closed,omitempty"`   // connections the server closed with a close frame
	CloseCodes     map[int]int `json:"close_codes,omitempty"`
	ConnsLost      int         `json:"conns_lost,omitempty"` // connections that ended without a close frame
	LastConnError  string      `json:"last_conn_error,omitempty"`
	MaxSendLagNS   int64       `json:"max_send_lag_ns,omitempty"` // how far publishing fell behind its schedule
}

func (c *Counts) add(o Counts) {
	c.Published += o.Published
	c.Acks += o.Acks
	c.PublishErrors += o.PublishErrors
	if o.LastPubError != "" {
		c.LastPubError = o.LastPubError
	}
	c.Delivered += o.Delivered
	c.DeliveredTotal += o.DeliveredTotal
	c.Gaps += o.Gaps
	c.Dups += o.Dups
	c.BadFrames += o.BadFrames
	c.ServerClosed += o.ServerClosed
	for code, n := range o.CloseCodes {
		if c.CloseCodes == nil {
			c.CloseCodes = map[int]int{}
		}
		c.CloseCodes[code] += n
	}
	c.ConnsLost += o.ConnsLost
	if o.LastConnError != "" {
		c.LastConnError = o.LastConnError
	}
	c.MaxSendLagNS = max(c.MaxSendLagNS, o.MaxSendLagNS)
}
