package fanout

import (
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

func TestSummarizeAndConclusion(t *testing.T) {
	r := &Result{Name: "sb", Load: Load{Members: 100, Publishers: 1, Rate: 10, DurationSeconds: 10}, Reps: []Rep{
		{DeliveriesPerSec: 1000, Latency: summary.Latency{P50: 1, P99: 2}, Counts: Counts{Published: 120, Acks: 120}, Usage: runner.Usage{WindowSeconds: 10}},
		{DeliveriesPerSec: 990, Latency: summary.Latency{P50: 1, P99: 3}, Counts: Counts{Published: 120, Acks: 120}, Usage: runner.Usage{WindowSeconds: 10}},
		{Failure: "boom", Counts: Counts{Published: 5, Gaps: 1}},
	}}
	r.Summary = summarize(r.Reps)
	s := r.Summary
	if s.Reps != 2 || s.DeliveriesPerSec.Median != 995 || s.Published != 245 || s.Gaps != 1 {
		t.Fatalf("summary = %+v", s)
	}
	if !sustained(r) || strings.Contains(conclusion(r), "OVERLOADED") {
		t.Fatalf("a run at 99%% of the asked load should count as kept up: %s", conclusion(r))
	}
	r.Reps[1].DeliveriesPerSec = 500
	r.Summary = summarize(r.Reps)
	if sustained(r) || !strings.Contains(conclusion(r), "OVERLOADED") {
		t.Fatalf("a run at half the asked load should be overloaded: %s", conclusion(r))
	}
}

func TestParseConfigRefusesTooManyPerWorker(t *testing.T) {
	base := []string{"--server-bin", "x", "--name", "n", "--out", "o"}
	if _, err := parseConfig(append(base, "--members", "10000", "--clients", "2")); err == nil {
		t.Fatal("10,000 members on 2 workers was accepted")
	}
	if _, err := parseConfig(append(base, "--members", "10000", "--clients", "4")); err != nil {
		t.Fatal(err)
	}
	if _, err := parseConfig(append(base, "--room", "Bad Room")); err == nil {
		t.Fatal("a bad room id was accepted")
	}
}

func TestRoomAssignment(t *testing.T) {
	// Every room gets exactly one publisher when publishers <= rooms, and
	// the publishers share rooms evenly when there are more of them.
	for _, tc := range []struct{ pubs, rooms int }{{1, 1}, {1, 5}, {2, 5}, {5, 5}, {7, 3}} {
		count := make([]int, tc.rooms)
		for p := range tc.pubs {
			rs := publisherRooms(p, tc.pubs, tc.rooms)
			if len(rs) == 0 {
				t.Fatalf("%+v: publisher %d has no room", tc, p)
			}
			for _, r := range rs {
				count[r]++
			}
		}
		for r, n := range count {
			want := 1
			if tc.pubs > tc.rooms {
				want = tc.pubs / tc.rooms
				if r < tc.pubs%tc.rooms {
					want++
				}
			}
			if n != want {
				t.Errorf("%+v: room %d has %d publishers, want %d", tc, r, n, want)
			}
		}
	}
	if roomName("fan", 0, 1) != "fan" || roomName("fan", 3, 4) != "fan-3" {
		t.Error("room names")
	}
	seen := map[int]int{}
	for i := 10; i < 22; i++ { // any contiguous range of 12 covers 4 rooms 3 times each
		seen[memberRoom(i, 4)]++
	}
	for r := range 4 {
		if seen[r] != 3 {
			t.Errorf("room %d has %d of 12 members", r, seen[r])
		}
	}
}
