package chat

import (
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
)

// report is what a chat worker writes over runner's protocol: "ready" once
// its users are connected and joined, "finished" after the window and the
// drain, with every member's last seq per room.
type report struct {
	runner.Header
	Users     int    `json:"users,omitempty"`
	LastError string `json:"ready_error,omitempty"`

	Counts
	LastSeqs map[string][]uint64 `json:"last_seqs,omitempty"` // room → every member's last seq after the drain
	Hist     *hist.Histogram     `json:"hist,omitempty"`
}

// Counts is what workers add up.
type Counts struct {
	Published       uint64            `json:"published"`
	SkippedDown     uint64            `json:"skipped_down"` // publishes due while their user was reconnecting
	Acks            uint64            `json:"acks"`
	AcksInWindow    uint64            `json:"acks_in_window"`
	Heads           map[string]uint64 `json:"heads,omitempty"` // room → highest seq acked
	Delivered       uint64            `json:"delivered"`       // message frames received in the window
	DeliveredTotal  uint64            `json:"delivered_total"`
	Gaps            uint64            `json:"gaps"`
	Dups            uint64            `json:"dups"`
	BadFrames       uint64            `json:"bad_frames"`
	Resets          uint64            `json:"resets"`
	Reads           uint64            `json:"reads_sent"`
	ReadsRecv       uint64            `json:"reads_received"`
	TypingRecv      uint64            `json:"typing_received"`
	Reconnects      uint64            `json:"reconnects"`
	Retries         uint64            `json:"retries"` // publishes sent again after a reconnect, same id
	ReconnectErrors uint64            `json:"reconnect_errors"`
	ConnsLost       uint64            `json:"conns_lost"`
	Errors          uint64            `json:"error_frames"`
	LastError       string            `json:"last_error,omitempty"`
}

func (c *Counts) add(o Counts) {
	c.Published += o.Published
	c.SkippedDown += o.SkippedDown
	c.Acks += o.Acks
	c.AcksInWindow += o.AcksInWindow
	for r, s := range o.Heads {
		if c.Heads == nil {
			c.Heads = map[string]uint64{}
		}
		c.Heads[r] = max(c.Heads[r], s)
	}
	c.Delivered += o.Delivered
	c.DeliveredTotal += o.DeliveredTotal
	c.Gaps += o.Gaps
	c.Dups += o.Dups
	c.BadFrames += o.BadFrames
	c.Resets += o.Resets
	c.Reads += o.Reads
	c.ReadsRecv += o.ReadsRecv
	c.TypingRecv += o.TypingRecv
	c.Reconnects += o.Reconnects
	c.Retries += o.Retries
	c.ReconnectErrors += o.ReconnectErrors
	c.ConnsLost += o.ConnsLost
	c.Errors += o.Errors
	if o.LastError != "" {
		c.LastError = o.LastError
	}
}

// undelivered is, over every member of every room, how far its last seq
// is behind the room's head: messages acked to a publisher that some
// member never received.
func undelivered(heads map[string]uint64, lastSeqs map[string][]uint64) (missing uint64, behind int) {
	for room, seqs := range lastSeqs {
		for _, s := range seqs {
			if h := heads[room]; s < h {
				missing += h - s
				behind++
			}
		}
	}
	return missing, behind
}
