package chat

import (
	"strings"
	"testing"
)

func TestUserRooms(t *testing.T) {
	members := map[int]int{}
	for u := range 40 {
		rs := userRooms(u, 10, 3)
		seen := map[int]bool{}
		for _, r := range rs {
			if seen[r] {
				t.Fatalf("user %d joins room %d twice: %v", u, r, rs)
			}
			seen[r] = true
			members[r]++
		}
	}
	for r := range 10 {
		if members[r] != 12 {
			t.Errorf("room %d has %d members, want 40×3/10", r, members[r])
		}
	}
}

func TestUndelivered(t *testing.T) {
	heads := map[string]uint64{"a": 10, "b": 3}
	seqs := map[string][]uint64{"a": {10, 8, 10}, "b": {3, 3}, "c": {0}}
	if missing, behind := undelivered(heads, seqs); missing != 2 || behind != 1 {
		t.Errorf("undelivered = %d, %d; want 2 messages short for 1 membership", missing, behind)
	}
}

func TestCountsAddAndReport(t *testing.T) {
	var c Counts
	c.add(Counts{Published: 3, Acks: 3, Heads: map[string]uint64{"a": 5}, Gaps: 1, LastError: "x"})
	c.add(Counts{Published: 2, Acks: 2, Heads: map[string]uint64{"a": 4, "b": 1}})
	if c.Published != 5 || c.Heads["a"] != 5 || c.Heads["b"] != 1 || c.Gaps != 1 || c.LastError != "x" {
		t.Fatalf("counts %+v", c)
	}
	r := &Result{Name: "sb", Load: Load{Users: 10, Rooms: 2, RoomsPerUser: 1, DurationSeconds: 1, Clients: 1}, Reps: []Rep{
		{AckedPerSec: 100, DeliveriesPerSec: 500, Counts: Counts{Reconnects: 4}},
		{AckedPerSec: 50, Failure: "seq check failed: 1 gaps", Counts: Counts{Gaps: 1}},
	}}
	r.Failure = "repetition 2: seq check failed"
	r.Summary = summarize(r.Reps)
	if r.Summary.Reps != 1 || r.Summary.AckedPerSec.Median != 100 || r.Summary.Gaps != 1 || r.Summary.Reconnects != 4 {
		t.Fatalf("summary %+v", r.Summary)
	}
	var md strings.Builder
	WriteMarkdown(&md, r)
	for _, want := range []string{"acked 100 msgs/s", "through 4 reconnects with since (0 unacked publishes retried with their id): 1 gaps", "FAILED: seq check failed", "**Machine: quiet.**"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	if _, err := parseConfig([]string{"--server-bin", "x", "--out", "o"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{
		{"--server-bin", "x"},
		{"--server-bin", "x", "--out", "o", "--users", "20000", "--clients", "2"},
		{"--server-bin", "x", "--out", "o", "--rooms", "2", "--rooms-per-user", "3"},
	} {
		if _, err := parseConfig(bad); err == nil {
			t.Errorf("parseConfig(%v) accepted", bad)
		}
	}
}
