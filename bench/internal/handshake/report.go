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
	fmt.Fprintf(w, "# Connection churn: %s\n\n**Result:** %s\n\n", r.Name, conclusion(r))
	reportfile.WriteHowRun(w, r.Meta, r.Load.Describe())
	fmt.Fprintf(w, "\n## Method\n\n"+method+"\n", summary.NoiseCores)
	fmt.Fprintf(w, "\n## Repetitions\n\n| rep | conns/s | upgrade p50 ms | upgrade p99 ms | upgrade max ms | cycle p50 ms | cycle p99 ms | "+
		"completed | dial errors | echo errors | server CPU ms / conn | server CPU cores | client CPU s | other CPU cores | RSS MiB | left open | status |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for i, rep := range r.Reps {
		status := "ok"
		if rep.Failure != "" {
			status = "FAILED: " + rep.Failure
		}
		fmt.Fprintf(w, "| %d | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %d | %d | %d | %.3f | %.2f | %.2f | %.2f | %.1f | %d | %s |\n",
			i+1, rep.ConnsPerSec, rep.Upgrade.P50, rep.Upgrade.P99, rep.Upgrade.Max, rep.Cycle.P50, rep.Cycle.P99,
			rep.Completed, rep.DialErrors, rep.EchoErrors, rep.ServerCPUPer1k, rep.ServerCPUCores, rep.ClientCPUSeconds,
			rep.OtherCPUCores+rep.StealCores, float64(rep.ServerRSS)/(1<<20), rep.LeftOpen, status)
	}
	if r.Failure != "" {
		fmt.Fprintf(w, "\n**FAILED:** %s\n", r.Failure)
	}
	fmt.Fprintf(w, "\n## Conclusion\n\n%s\n", conclusion(r))
}

// conclusion is the plain-words line of a report.
func conclusion(r *Result) string {
	s := r.Summary
	if s.Reps == 0 {
		return fmt.Sprintf("%s: no clean repetition, nothing measured (%s).", r.Name, r.Failure)
	}
	out := fmt.Sprintf("%s completed %s connections/s (median of %d, range %.0f..%.0f), each connect + upgrade + one echo + close; "+
		"upgrade p50 %.3f ms, p99 %.3f ms (range %.3f..%.3f); %.3f ms of server CPU per connection.",
		r.Name, summary.Thousands(s.ConnsPerSec.Median), s.Reps, s.ConnsPerSec.Min, s.ConnsPerSec.Max,
		s.UpgradeP50.Median, s.UpgradeP99.Median, s.UpgradeP99.Min, s.UpgradeP99.Max, s.CPUPerConn.Median)
	if s.NoisyReps > 0 {
		out += fmt.Sprintf(" NOISY: other processes used up to %.2f cores during %d of %d repetitions.", s.OtherCPUMax, s.NoisyReps, len(r.Reps))
	}
	if r.Failure != "" {
		out += " Some repetitions FAILED: " + r.Failure
	}
	return out
}
