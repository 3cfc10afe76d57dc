package echo

import (
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Result is one `swload echo` run: what was run, on what, every repetition
// and their summary. It is the schema of <out>.json.
type Result = runner.Result[Load, Rep, Summary]

// Load is what every repetition asks of the server; reports compare only
// runs with the same Load.
type Load struct {
	Conns           int     `json:"conns"`
	Size            int     `json:"size"`
	Inflight        int     `json:"inflight"`         // closed loop; 0 in open loop
	Rate            float64 `json:"rate"`             // open loop, messages/s in total; 0 = closed loop
	WarmupSeconds   float64 `json:"warmup_seconds"`   // not measured
	DurationSeconds float64 `json:"duration_seconds"` // measured
	Clients         int     `json:"clients"`          // worker processes
	Loops           int     `json:"loops"`            // event loops per worker
}

// Rep is one repetition against a freshly started server.
type Rep struct {
	Conns      int `json:"conns"` // connected and held through the run
	DialErrors int `json:"dial_errors"`

	Sent          uint64  `json:"sent"`
	Received      uint64  `json:"received"`       // echoes received in the measured window
	ReceivedTotal uint64  `json:"received_total"` // including warmup
	Outstanding   uint64  `json:"outstanding"`    // sent, not echoed by the end
	WrongSize     uint64  `json:"wrong_size"`
	ConnsLost     int     `json:"conns_lost"`
	MsgsPerSec    float64 `json:"msgs_per_sec"` // Received / window
	MaxSendLagMS  float64 `json:"max_send_lag_ms"`

	Latency summary.Latency `json:"latency"`
	// Hist holds the round trips in ns (measured window only); the JSON
	// keeps the percentiles in Latency, not the buckets.
	Hist *hist.Histogram `json:"-"`

	ServerCPUSeconds    float64 `json:"server_cpu_seconds"`  // utime+stime over the window
	ServerCPUPerMillion float64 `json:"server_cpu_s_per_1m"` // per million echoed messages
	runner.Usage
	ServerHWM        uint64 `json:"server_rss_peak_bytes"` // VmHWM at the end
	ServerThreads    int    `json:"server_threads"`
	ServerGoroutines int64  `json:"server_goroutines"`

	Failure string `json:"failure,omitempty"`
}

// Failed is rep marked as failed for why.
func (rep Rep) Failed(why string) Rep {
	rep.Failure = why
	return rep
}

// Summary is over the clean repetitions.
type Summary struct {
	Reps          int            `json:"reps"` // clean ones
	MsgsPerSec    summary.Spread `json:"msgs_per_sec"`
	P50MS         summary.Spread `json:"p50_ms"`
	P90MS         summary.Spread `json:"p90_ms"`
	P99MS         summary.Spread `json:"p99_ms"`
	P999MS        summary.Spread `json:"p999_ms"`
	MaxMS         summary.Spread `json:"max_ms"`
	CPUPerMillion summary.Spread `json:"server_cpu_s_per_1m"`
	CPUCores      summary.Spread `json:"server_cpu_cores"`
	ClientCPU     summary.Spread `json:"client_cpu_seconds"`
	RSSBytes      summary.Spread `json:"server_rss_bytes"`
	runner.Noise
}

// summarize summarizes the repetitions: the spreads over those without a
// failure, the noise over all.
func summarize(reps []Rep) Summary {
	var tput, p50, p90, p99, p999, mx, cpu, cores, client, rss []float64
	var noise runner.Noise
	for _, rep := range reps {
		noise.Add(rep.Usage)
		if rep.Failure != "" {
			continue
		}
		tput = append(tput, rep.MsgsPerSec)
		p50 = append(p50, rep.Latency.P50)
		p90 = append(p90, rep.Latency.P90)
		p99 = append(p99, rep.Latency.P99)
		p999 = append(p999, rep.Latency.P999)
		mx = append(mx, rep.Latency.Max)
		cpu = append(cpu, rep.ServerCPUPerMillion)
		cores = append(cores, rep.ServerCPUCores)
		client = append(client, rep.ClientCPUSeconds)
		rss = append(rss, float64(rep.ServerRSS))
	}
	return Summary{
		Reps: len(tput), MsgsPerSec: summary.SpreadOf(tput), P50MS: summary.SpreadOf(p50), P90MS: summary.SpreadOf(p90),
		P99MS: summary.SpreadOf(p99), P999MS: summary.SpreadOf(p999), MaxMS: summary.SpreadOf(mx), CPUPerMillion: summary.SpreadOf(cpu),
		CPUCores: summary.SpreadOf(cores), ClientCPU: summary.SpreadOf(client), RSSBytes: summary.SpreadOf(rss), Noise: noise,
	}
}

// cpuPerMillion is CPU seconds per million messages; 0 when none were
// echoed.
func cpuPerMillion(cpuSeconds float64, msgs uint64) float64 {
	if msgs == 0 {
		return 0
	}
	return cpuSeconds / float64(msgs) * 1e6
}
