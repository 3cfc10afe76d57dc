package fanout

import (
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Result is one `swload fanout` run; the schema of <out>.json.
type Result struct {
	Name    string  `json:"name"`
	Meta    Meta    `json:"meta"`
	Load    Load    `json:"load"`
	Reps    []Rep   `json:"reps"`
	Summary Summary `json:"summary"`
	// Failure is empty when every repetition completed cleanly; the
	// summary covers the clean ones.
	Failure string `json:"failure,omitempty"`
}

// Meta is the reproduction information of a run.
type Meta = reportfile.RunMeta

// Load is what every repetition asks of the server.
type Load struct {
	Rooms           int     `json:"rooms"`   // 0 in results from before rooms were a parameter: one room
	Members         int     `json:"members"` // per room
	Users           int     `json:"users"`   // distinct member user names; 0 = one per member
	Publishers      int     `json:"publishers"`
	Rate            float64 `json:"rate"` // publishes/s in total, open loop
	WarmupSeconds   float64 `json:"warmup_seconds"`
	DurationSeconds float64 `json:"duration_seconds"`
	Clients         int     `json:"clients"` // worker processes
}

// Rep is one repetition against a freshly started server.
type Rep struct {
	Members      int     `json:"members"` // joined before the start
	Publishers   int     `json:"publishers"`
	DialErrors   int     `json:"dial_errors"`
	SetupSeconds float64 `json:"setup_seconds"` // workers started → every connection joined and the presence storm delivered
	// SetupPresence is the presence frames the joins caused (each join
	// tells every member already in the room): about members²/2.
	SetupPresence uint64 `json:"setup_presence_frames"`

	Counts
	// Undelivered is acks × members still connected minus deliveries, at
	// the end of the drain: messages the server stored but had not
	// delivered (or lost).
	Undelivered      uint64  `json:"undelivered"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"` // Delivered / window

	Latency Latency         `json:"latency"`
	Hist    *hist.Histogram `json:"-"` // publish (due) → deliver, ns, measured window only

	ServerCPUSeconds    float64 `json:"server_cpu_seconds"`
	ServerCPUPerMillion float64 `json:"server_cpu_s_per_1m"` // per million deliveries
	ServerCPUCores      float64 `json:"server_cpu_cores"`
	ClientCPUSeconds    float64 `json:"client_cpu_seconds"`
	WindowSeconds       float64 `json:"window_seconds"`
	// OtherCPUCores is task CPU that neither the server nor the workers
	// used during the window; StealCores what the hypervisor took.
	OtherCPUCores    float64 `json:"other_cpu_cores"`
	StealCores       float64 `json:"steal_cores"`
	ServerRSS        uint64  `json:"server_rss_bytes"`
	ServerHWM        uint64  `json:"server_rss_peak_bytes"`
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

// Summary is over the clean repetitions; the failure counters are over all.
type Summary struct {
	Reps             int    `json:"reps"`
	DeliveriesPerSec Spread `json:"deliveries_per_sec"`
	P50MS            Spread `json:"p50_ms"`
	P99MS            Spread `json:"p99_ms"`
	P999MS           Spread `json:"p999_ms"`
	MaxMS            Spread `json:"max_ms"`
	CPUPerMillion    Spread `json:"server_cpu_s_per_1m"`
	CPUCores         Spread `json:"server_cpu_cores"`
	ClientCPUCores   Spread `json:"client_cpu_cores"`
	RSSBytes         Spread `json:"server_rss_bytes"`
	SetupSeconds     Spread `json:"setup_seconds"`

	Published    uint64 `json:"published"` // all repetitions
	Acks         uint64 `json:"acks"`
	Gaps         uint64 `json:"gaps"`
	Dups         uint64 `json:"dups"`
	ServerClosed int    `json:"server_closed"`
	Undelivered  uint64 `json:"undelivered"`

	OtherCPUMax float64 `json:"other_cpu_cores_max"`
	NoisyReps   int     `json:"noisy_reps"`
}

// NoiseCores is the CPU, in cores, that other processes may use during a
// repetition before the reports call it noisy.
const NoiseCores = summary.NoiseCores

// Summarize fills r.Summary.
func (r *Result) Summarize() {
	var tput, p50, p99, p999, mx, cpu, cores, client, rss, setup []float64
	s := Summary{}
	for _, rep := range r.Reps {
		s.Published += rep.Published
		s.Acks += rep.Acks
		s.Gaps += rep.Gaps
		s.Dups += rep.Dups
		s.ServerClosed += rep.ServerClosed
		s.Undelivered += rep.Undelivered
		s.OtherCPUMax = max(s.OtherCPUMax, rep.OtherCPUCores+rep.StealCores)
		if rep.OtherCPUCores+rep.StealCores > NoiseCores {
			s.NoisyReps++
		}
		if rep.Failure != "" {
			continue
		}
		tput = append(tput, rep.DeliveriesPerSec)
		p50 = append(p50, rep.Latency.P50)
		p99 = append(p99, rep.Latency.P99)
		p999 = append(p999, rep.Latency.P999)
		mx = append(mx, rep.Latency.Max)
		cpu = append(cpu, rep.ServerCPUPerMillion)
		cores = append(cores, rep.ServerCPUCores)
		if rep.WindowSeconds > 0 {
			client = append(client, rep.ClientCPUSeconds/rep.WindowSeconds)
		}
		rss = append(rss, float64(rep.ServerRSS))
		setup = append(setup, rep.SetupSeconds)
	}
	s.Reps = len(tput)
	s.DeliveriesPerSec, s.P50MS, s.P99MS, s.P999MS, s.MaxMS = SpreadOf(tput), SpreadOf(p50), SpreadOf(p99), SpreadOf(p999), SpreadOf(mx)
	s.CPUPerMillion, s.CPUCores, s.ClientCPUCores = SpreadOf(cpu), SpreadOf(cores), SpreadOf(client)
	s.RSSBytes, s.SetupSeconds = SpreadOf(rss), SpreadOf(setup)
	r.Summary = s
}
