package echo

import (
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Result is one `swload echo` run: what was run, on what, every repetition
// and their summary. It is the schema of <out>.json.
type Result struct {
	Name    string  `json:"name"`
	Meta    Meta    `json:"meta"`
	Load    Load    `json:"load"`
	Reps    []Rep   `json:"reps"`
	Summary Summary `json:"summary"`
	// Failure is empty when every repetition completed cleanly; otherwise
	// it says which did not and why. The summary covers the clean ones.
	Failure string `json:"failure,omitempty"`
}

// Meta is the reproduction information of a run.
type Meta = reportfile.RunMeta

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

	Latency Latency `json:"latency"`
	// Hist holds the round trips in ns (measured window only); the JSON
	// keeps the percentiles in Latency, not the buckets.
	Hist *hist.Histogram `json:"-"`

	ServerCPUSeconds    float64 `json:"server_cpu_seconds"`  // utime+stime over the window
	ServerCPUPerMillion float64 `json:"server_cpu_s_per_1m"` // per million echoed messages
	ServerCPUCores      float64 `json:"server_cpu_cores"`    // 1 = one core busy
	ClientCPUSeconds    float64 `json:"client_cpu_seconds"`  // all workers, same window
	WindowSeconds       float64 `json:"window_seconds"`      // measured by the controller
	// OtherCPUCores is task CPU (user+nice+system, /proc/stat) that neither
	// the server nor the workers used during the window: other processes
	// competing for the cores. StealCores is time the hypervisor took.
	// Either well above zero makes the repetition noisy.
	OtherCPUCores    float64 `json:"other_cpu_cores"`
	StealCores       float64 `json:"steal_cores"`
	ServerRSS        uint64  `json:"server_rss_bytes"`      // VmRSS at the end, connections still open
	ServerHWM        uint64  `json:"server_rss_peak_bytes"` // VmHWM at the end
	ServerThreads    int     `json:"server_threads"`
	ServerGoroutines int64   `json:"server_goroutines"`

	Failure string `json:"failure,omitempty"`
}

// Latency is a latency summary of a Rep, in milliseconds.
type Latency = summary.Latency

// Spread is the median of a set of repetitions and its range.
type Spread = summary.Spread

// LatencyOf summarises a histogram of nanoseconds.
func LatencyOf(h *hist.Histogram) Latency { return summary.LatencyOf(h) }

// SpreadOf computes a Spread; the median of an even count is the mean of
// the middle two. An empty input gives zeros.
func SpreadOf(xs []float64) Spread { return summary.SpreadOf(xs) }

// Summary is over the clean repetitions.
type Summary struct {
	Reps          int    `json:"reps"` // clean ones
	MsgsPerSec    Spread `json:"msgs_per_sec"`
	P50MS         Spread `json:"p50_ms"`
	P90MS         Spread `json:"p90_ms"`
	P99MS         Spread `json:"p99_ms"`
	P999MS        Spread `json:"p999_ms"`
	MaxMS         Spread `json:"max_ms"`
	CPUPerMillion Spread `json:"server_cpu_s_per_1m"`
	CPUCores      Spread `json:"server_cpu_cores"`
	ClientCPU     Spread `json:"client_cpu_seconds"`
	RSSBytes      Spread `json:"server_rss_bytes"`
	// OtherCPUMax is the most CPU anything else on the machine used in
	// any repetition (cores), and NoisyReps how many repetitions were over
	// NoiseCores of it.
	OtherCPUMax float64 `json:"other_cpu_cores_max"`
	NoisyReps   int     `json:"noisy_reps"`
}

// NoiseCores is the CPU, in cores, that other processes may use during a
// repetition before the reports call it noisy.
const NoiseCores = summary.NoiseCores

// Summarize fills r.Summary from the repetitions without a failure.
func (r *Result) Summarize() {
	var tput, p50, p90, p99, p999, mx, cpu, cores, client, rss []float64
	for _, rep := range r.Reps {
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
	var otherMax float64
	noisy := 0
	for _, rep := range r.Reps {
		otherMax = max(otherMax, rep.OtherCPUCores+rep.StealCores)
		if rep.OtherCPUCores+rep.StealCores > NoiseCores {
			noisy++
		}
	}
	r.Summary = Summary{
		Reps: len(tput), MsgsPerSec: SpreadOf(tput), P50MS: SpreadOf(p50), P90MS: SpreadOf(p90),
		P99MS: SpreadOf(p99), P999MS: SpreadOf(p999), MaxMS: SpreadOf(mx), CPUPerMillion: SpreadOf(cpu),
		CPUCores: SpreadOf(cores), ClientCPU: SpreadOf(client), RSSBytes: SpreadOf(rss),
		OtherCPUMax: otherMax, NoisyReps: noisy,
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
