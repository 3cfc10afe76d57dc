package handshake

import (
	"fmt"

	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Result is one `swload handshake` run; the schema of <out>.json.
type Result = runner.Result[Load, Rep, Summary]

// Load is what every repetition asks of the server.
type Load struct {
	Concurrency     int     `json:"concurrency"` // connections in flight, all workers
	Rate            float64 `json:"rate"`        // open loop connections/s; 0 = closed loop
	Size            int     `json:"size"`        // bytes of the one message
	WarmupSeconds   float64 `json:"warmup_seconds"`
	DurationSeconds float64 `json:"duration_seconds"`
	Clients         int     `json:"clients"`
}

// Describe says in words what load a run applied.
func (l Load) Describe() string {
	mode := fmt.Sprintf("closed loop, %d connections in flight", l.Concurrency)
	if l.Rate > 0 {
		mode = fmt.Sprintf("open loop at %g connections/s (at most %d in flight), latency from each connection's due time", l.Rate, l.Concurrency)
	}
	return fmt.Sprintf("connect, upgrade, one %d B message and its echo, close handshake; %s; %gs warmup + %gs measured; %d worker processes",
		l.Size, mode, l.WarmupSeconds, l.DurationSeconds, l.Clients)
}

// Rep is one repetition against a freshly started server.
type Rep struct {
	Counts
	ConnsPerSec      float64         `json:"conns_per_sec"` // Completed / window
	Upgrade          summary.Latency `json:"upgrade_latency"`
	Cycle            summary.Latency `json:"cycle_latency"`
	UpgradeHist      *hist.Histogram `json:"-"`
	CycleHist        *hist.Histogram `json:"-"`
	ServerCPUSeconds float64         `json:"server_cpu_seconds"`
	ServerCPUPer1k   float64         `json:"server_cpu_ms_per_conn"` // CPU milliseconds per completed connection
	runner.Usage
	LeftOpen int64  `json:"left_open"` // connections the server still counted after the run
	Failure  string `json:"failure,omitempty"`
}

// Failed is rep marked as failed for why.
func (rep Rep) Failed(why string) Rep {
	rep.Failure = why
	return rep
}

// Summary is over the clean repetitions.
type Summary struct {
	Reps        int            `json:"reps"`
	ConnsPerSec summary.Spread `json:"conns_per_sec"`
	UpgradeP50  summary.Spread `json:"upgrade_p50_ms"`
	UpgradeP99  summary.Spread `json:"upgrade_p99_ms"`
	CycleP99    summary.Spread `json:"cycle_p99_ms"`
	CPUPerConn  summary.Spread `json:"server_cpu_ms_per_conn"`
	runner.Noise
	Errors uint64 `json:"errors"` // dial and echo errors, all repetitions
}

// summarize summarizes the repetitions: the spreads over those without a
// failure, the errors and the noise over all.
func summarize(reps []Rep) Summary {
	var tput, up50, up99, cy99, cpu []float64
	s := Summary{}
	for _, rep := range reps {
		s.Errors += rep.DialErrors + rep.EchoErrors
		s.Noise.Add(rep.Usage)
		if rep.Failure != "" {
			continue
		}
		tput = append(tput, rep.ConnsPerSec)
		up50 = append(up50, rep.Upgrade.P50)
		up99 = append(up99, rep.Upgrade.P99)
		cy99 = append(cy99, rep.Cycle.P99)
		cpu = append(cpu, rep.ServerCPUPer1k)
	}
	s.Reps = len(tput)
	s.ConnsPerSec, s.UpgradeP50, s.UpgradeP99 = summary.SpreadOf(tput), summary.SpreadOf(up50), summary.SpreadOf(up99)
	s.CycleP99, s.CPUPerConn = summary.SpreadOf(cy99), summary.SpreadOf(cpu)
	return s
}
