package handshake

import (
	"fmt"
	"io"

	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

const method = "Each repetition starts the server afresh and the worker processes, each on its own loopback source address. " +
	"From one agreed instant every worker runs its share of the in-flight connections: each one dials (TCP connect from " +
	"the worker's address), sends the HTTP upgrade, reads the 101 (upgrade latency ends here), sends one masked binary " +
	"message, reads its echo, sends a close frame, reads the server's close and waits for the server to close the TCP " +
	"connection, so TIME_WAIT stays on the server's side (cycle latency ends here). Closed loop: the next connection " +
	"starts when one ends; open loop (--rate): connections are due at fixed intervals and timed from when they were due. " +
	"Connections completed in the measured window count toward connections/s and the latency histograms (log-linear, " +
	"values within 0.8%%). Server CPU is utime+stime over the window; \"other CPU\" is what the rest of the machine used " +
	"(over %.1f cores: noisy). After the window the server's own count must return to 0 within 10 s. A repetition with " +
	"more than 1%% failed connections is marked FAILED."

// WriteMarkdown renders the human report of one run.
func WriteMarkdown(w io.Writer, r *Result) {
	reportfile.WriteHead(w, "Connection churn: "+r.Name, conclusion(r), "", r.Meta, r.Load.Describe(), fmt.Sprintf(method, summary.NoiseCores))
	reportfile.WriteRepsHead(w, "conns/s", "upgrade p50 ms", "upgrade p99 ms", "upgrade max ms", "cycle p50 ms", "cycle p99 ms",
		"completed", "dial errors", "echo errors", "server CPU ms / conn", "server CPU cores", "client CPU s", "other CPU cores", "RSS MiB", "left open")
	for i, rep := range r.Reps {
		fmt.Fprintf(w, "| %d | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %d | %d | %d | %.3f | %.2f | %.2f | %.2f | %.1f | %d | %s |\n",
			i+1, rep.ConnsPerSec, rep.Upgrade.P50, rep.Upgrade.P99, rep.Upgrade.Max, rep.Cycle.P50, rep.Cycle.P99,
			rep.Completed, rep.DialErrors, rep.EchoErrors, rep.ServerCPUPer1k, rep.ServerCPUCores, rep.ClientCPUSeconds,
			rep.Other(), float64(rep.ServerRSS)/(1<<20), rep.LeftOpen, reportfile.Status(rep.Failure))
	}
	reportfile.WriteEnd(w, r.Failure, conclusion(r))
}

// conclusion is the plain-words line of a report.
func conclusion(r *Result) string {
	s := r.Summary
	return r.Conclusion(s.Reps, fmt.Sprintf("%s completed %s connections/s (median of %d, range %.0f..%.0f), each connect + upgrade + one echo + close; "+
		"upgrade p50 %.3f ms, p99 %.3f ms (range %.3f..%.3f); %.3f ms of server CPU per connection.",
		r.Name, summary.Thousands(s.ConnsPerSec.Median), s.Reps, s.ConnsPerSec.Min, s.ConnsPerSec.Max,
		s.UpgradeP50.Median, s.UpgradeP99.Median, s.UpgradeP99.Min, s.UpgradeP99.Max, s.CPUPerConn.Median),
		s.Noise.Note(len(r.Reps), "."))
}
