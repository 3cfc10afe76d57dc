package chat

import (
	"fmt"
	"io"

	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Result is one `swload chat` run; the schema of <out>.json.
type Result = runner.Result[Load, Rep, Summary]

// Rep is one repetition against a freshly started server.
type Rep struct {
	Users int `json:"users"`
	Counts
	Undelivered      uint64          `json:"undelivered"`    // acked messages some member never got, after the drain
	MembersBehind    int             `json:"members_behind"` // memberships short of their room's head
	AckedPerSec      float64         `json:"acked_per_sec"`
	DeliveriesPerSec float64         `json:"deliveries_per_sec"`
	Latency          summary.Latency `json:"delivery_latency"` // publish (due) → message received, window only
	ServerCPUCores   float64         `json:"server_cpu_cores"`
	OtherCPUCores    float64         `json:"other_cpu_cores"` // including steal
	ServerRSS        uint64          `json:"server_rss_bytes"`
	Failure          string          `json:"failure,omitempty"`
}

// Failed is rep marked as failed for why.
func (rep Rep) Failed(why string) Rep {
	rep.Failure = why
	return rep
}

// Summary is over the clean repetitions; counters over all.
type Summary struct {
	Reps             int            `json:"reps"`
	AckedPerSec      summary.Spread `json:"acked_per_sec"`
	DeliveriesPerSec summary.Spread `json:"deliveries_per_sec"`
	P50MS            summary.Spread `json:"p50_ms"`
	P99MS            summary.Spread `json:"p99_ms"`
	P999MS           summary.Spread `json:"p999_ms"`
	ServerCPUCores   summary.Spread `json:"server_cpu_cores"`
	Gaps             uint64         `json:"gaps"`
	Dups             uint64         `json:"dups"`
	Undelivered      uint64         `json:"undelivered"`
	Reconnects       uint64         `json:"reconnects"`
	Retries          uint64         `json:"retries"`
	Resets           uint64         `json:"resets"`
	OtherCPUMax      float64        `json:"other_cpu_cores_max"`
}

// summarize summarizes the repetitions: the spreads over those without a
// failure, the counters over all.
func summarize(reps []Rep) Summary {
	var acked, deliv, p50, p99, p999, cpu []float64
	s := Summary{}
	for _, rep := range reps {
		s.Gaps += rep.Gaps
		s.Dups += rep.Dups
		s.Undelivered += rep.Undelivered
		s.Reconnects += rep.Reconnects
		s.Retries += rep.Retries
		s.Resets += rep.Resets
		s.OtherCPUMax = max(s.OtherCPUMax, rep.OtherCPUCores)
		if rep.Failure != "" {
			continue
		}
		acked = append(acked, rep.AckedPerSec)
		deliv = append(deliv, rep.DeliveriesPerSec)
		p50 = append(p50, rep.Latency.P50)
		p99 = append(p99, rep.Latency.P99)
		p999 = append(p999, rep.Latency.P999)
		cpu = append(cpu, rep.ServerCPUCores)
	}
	s.Reps = len(acked)
	s.AckedPerSec, s.DeliveriesPerSec = summary.SpreadOf(acked), summary.SpreadOf(deliv)
	s.P50MS, s.P99MS, s.P999MS, s.ServerCPUCores = summary.SpreadOf(p50), summary.SpreadOf(p99), summary.SpreadOf(p999), summary.SpreadOf(cpu)
	return s
}

const method = "Each repetition starts switchboard afresh, creates the rooms, and starts the worker processes, each on its own " +
	"loopback source address with its share of the users. Every user has one connection (`/ws?user=u<i>`) and joins its " +
	"rooms. From one agreed instant the workers publish open loop at fixed intervals, users and rooms in turn, each body " +
	"`{\"t\":<due time>}` (a `typing` frame first, every n-th time); every user sends a `read` receipt after every n-th " +
	"message it receives; at their own rate users drop their connection, dial again and rejoin every room with `since` " +
	"set to the last seq they saw, then send again, with the same id, every publish whose ack the dropped connection " +
	"never delivered (the server must answer with the first seq and store nothing twice). Each member checks that every room's seq goes up by exactly 1 across reconnects " +
	"(gaps, duplicates) and times publish (due) → delivery. After the window and a drain, every member's last seq in " +
	"each room is compared with the room's highest acked seq: anything short is undelivered. Acked msgs/s is acks " +
	"received in the window divided by its length. \"Other CPU\" is what the rest of the machine used (over %.1f cores: noisy)."

// WriteMarkdown renders the report of one run.
func WriteMarkdown(w io.Writer, r *Result) {
	reportfile.WriteHead(w, "Chat mix: "+r.Name, conclusion(r), summary.Quietness(r.Summary.OtherCPUMax), r.Meta, r.Load.Describe(),
		fmt.Sprintf(method, summary.NoiseCores))
	reportfile.WriteRepsHead(w, "acked msgs/s", "deliveries/s", "p50 ms", "p99 ms", "p99.9 ms", "published", "acks", "skipped (reconnecting)",
		"gaps", "dups", "undelivered", "reconnects", "resets", "reads sent / received", "typing received", "server CPU cores", "other CPU cores", "RSS MiB")
	for i, rep := range r.Reps {
		fmt.Fprintf(w, "| %d | %.0f | %.0f | %.3f | %.3f | %.3f | %d | %d | %d | %d | %d | %d | %d | %d | %d / %d | %d | %.2f | %.2f | %.1f | %s |\n",
			i+1, rep.AckedPerSec, rep.DeliveriesPerSec, rep.Latency.P50, rep.Latency.P99, rep.Latency.P999, rep.Published, rep.Acks,
			rep.SkippedDown, rep.Gaps, rep.Dups, rep.Undelivered, rep.Reconnects, rep.Resets, rep.Reads, rep.ReadsRecv, rep.TypingRecv,
			rep.ServerCPUCores, rep.OtherCPUCores, float64(rep.ServerRSS)/(1<<20), reportfile.Status(rep.Failure))
	}
	s := r.Summary
	reportfile.WriteSummaryHead(w, s.Reps)
	fmt.Fprintf(w, "| acked msgs/s | %s |\n| deliveries/s | %s |\n", summary.Text(s.AckedPerSec, "%.0f"), summary.Text(s.DeliveriesPerSec, "%.0f"))
	fmt.Fprintf(w, "| delivery p50 / p99 / p99.9 ms | %s / %s / %s |\n", summary.Text(s.P50MS, "%.3f"), summary.Text(s.P99MS, "%.3f"), summary.Text(s.P999MS, "%.3f"))
	fmt.Fprintf(w, "| server CPU cores | %s |\n", summary.Text(s.ServerCPUCores, "%.2f"))
	fmt.Fprintf(w, "| gaps / duplicates / undelivered (all reps) | %d / %d / %d |\n", s.Gaps, s.Dups, s.Undelivered)
	fmt.Fprintf(w, "| reconnects with since / publishes retried after one / resets (all reps) | %d / %d / %d |\n", s.Reconnects, s.Retries, s.Resets)
	reportfile.WriteEnd(w, r.Failure, "")
}

// conclusion is the plain-words line of a report.
func conclusion(r *Result) string {
	s := r.Summary
	if s.Reps == 0 {
		return fmt.Sprintf("%s: no clean repetition (%s).", r.Name, r.Failure)
	}
	out := fmt.Sprintf("%s acked %s msgs/s (median of %d, range %.0f..%.0f) and delivered %s/s, publish→delivery p50 %.3f ms, p99 %.3f ms, "+
		"through %d reconnects with since (%d unacked publishes retried with their id): %d gaps, %d duplicates, %d undelivered.",
		r.Name, summary.Thousands(s.AckedPerSec.Median), s.Reps, s.AckedPerSec.Min, s.AckedPerSec.Max, summary.Thousands(s.DeliveriesPerSec.Median),
		s.P50MS.Median, s.P99MS.Median, s.Reconnects, s.Retries, s.Gaps, s.Dups, s.Undelivered)
	if r.Failure != "" {
		out += " Some repetitions FAILED: " + r.Failure
	}
	return out
}
