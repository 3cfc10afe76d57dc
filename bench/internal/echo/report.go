package echo

import (
	"fmt"
	"io"

	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Describe says in words what load a run applied.
func (l Load) Describe() string {
	mode := fmt.Sprintf("closed loop, %d message(s) in flight per connection", l.Inflight)
	if l.Rate > 0 {
		mode = fmt.Sprintf("open loop at %.0f msgs/s in total, latency from each message's due time", l.Rate)
	}
	return fmt.Sprintf("%d connections, %d B binary messages, %s; %gs warmup + %gs measured; %d worker processes × %d event loops",
		l.Conns, l.Size, mode, l.WarmupSeconds, l.DurationSeconds, l.Clients, l.Loops)
}

const method = "Each repetition starts the server afresh, waits for `/healthz`, and starts the worker processes, each dialing " +
	"its share of the connections from its own loopback source address. Once the server's `/debug/stats` reports every " +
	"connection, all workers start at one agreed instant. A worker drives its connections from one epoll loop per " +
	"`--loops` (no goroutine per connection), sends masked binary frames and times every echo from the moment its message " +
	"was sent (closed loop) or was due (open loop, which corrects for coordinated omission). Echoes that arrive in the " +
	"warmup are not counted. Latencies go into a log-linear histogram (values within 0.8%%); msgs/s is echoes received in " +
	"the window divided by its length. Server CPU is utime+stime from `/proc/PID/stat` over the same window (10 ms ticks); " +
	"client CPU is the same for the workers, which share the machine with the server. \"Other CPU\" is the task CPU of the whole machine (`/proc/stat` user+nice+system, plus steal) that neither used: other processes competing for the cores; a repetition with more than %.1f cores of it is called noisy. RSS is VmRSS at the window's end " +
	"with every connection still open."

// WriteMarkdown renders the human report of one run.
func WriteMarkdown(w io.Writer, r *Result) {
	reportfile.WriteHead(w, "Echo throughput and latency: "+r.Name, conclusion(r), "", r.Meta, r.Load.Describe(), fmt.Sprintf(method, summary.NoiseCores))
	reportfile.WriteRepsHead(w, "msgs/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "server CPU s / 1M msgs", "server CPU cores",
		"client CPU s", "other CPU cores", "RSS MiB", "threads", "sent", "outstanding at end")
	for i, rep := range r.Reps {
		fmt.Fprintf(w, "| %d | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f | %.2f | %.2f | %.1f | %d | %d | %d | %s |\n",
			i+1, rep.MsgsPerSec, rep.Latency.P50, rep.Latency.P90, rep.Latency.P99, rep.Latency.P999, rep.Latency.Max,
			rep.ServerCPUPerMillion, rep.ServerCPUCores, rep.ClientCPUSeconds, rep.Other(), float64(rep.ServerRSS)/(1<<20),
			rep.ServerThreads, rep.Sent, rep.Outstanding, reportfile.Status(rep.Failure))
	}
	s := r.Summary
	reportfile.WriteSummaryHead(w, s.Reps)
	fmt.Fprintf(w, "| msgs/s | %s |\n", summary.Text(s.MsgsPerSec, "%.0f"))
	fmt.Fprintf(w, "| p50 ms | %s |\n", summary.Text(s.P50MS, "%.3f"))
	fmt.Fprintf(w, "| p90 ms | %s |\n", summary.Text(s.P90MS, "%.3f"))
	fmt.Fprintf(w, "| p99 ms | %s |\n", summary.Text(s.P99MS, "%.3f"))
	fmt.Fprintf(w, "| p99.9 ms | %s |\n", summary.Text(s.P999MS, "%.3f"))
	fmt.Fprintf(w, "| max ms | %s |\n", summary.Text(s.MaxMS, "%.3f"))
	fmt.Fprintf(w, "| server CPU s per 1M msgs | %s |\n", summary.Text(s.CPUPerMillion, "%.2f"))
	fmt.Fprintf(w, "| server CPU cores | %s |\n", summary.Text(s.CPUCores, "%.2f"))
	fmt.Fprintf(w, "| server RSS MiB | %s |\n", summary.Text(summary.Scale(s.RSSBytes, 1<<20), "%.1f"))
	reportfile.WriteEnd(w, r.Failure, conclusion(r))
}

// conclusion is the plain-words line of a report.
func conclusion(r *Result) string {
	s := r.Summary
	return r.Conclusion(s.Reps, fmt.Sprintf("%s echoed %s msgs/s (median of %d, range %.0f..%.0f) over %d connections × %d B with p50 %.3f ms and p99 %.3f ms "+
		"(range %.3f..%.3f), spending %.2f server CPU seconds per million messages (%.2f cores) at %.1f MiB RSS.",
		r.Name, summary.Thousands(s.MsgsPerSec.Median), s.Reps, s.MsgsPerSec.Min, s.MsgsPerSec.Max, r.Load.Conns, r.Load.Size,
		s.P50MS.Median, s.P99MS.Median, s.P99MS.Min, s.P99MS.Max, s.CPUPerMillion.Median, s.CPUCores.Median, s.RSSBytes.Median/(1<<20)),
		s.Noise.Note(len(r.Reps), ", so these numbers understate the server."))
}
