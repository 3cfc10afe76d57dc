package fanout

import (
	"github.com/switchboard-chat/switchboard/bench/internal/hist"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Result is one `swload fanout` run; the schema of <out>.json.
type Result = runner.Result[Load, Rep, Summary]

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

	Latency summary.Latency `json:"latency"`
	Hist    *hist.Histogram `json:"-"` // publish (due) → deliver, ns, measured window only

	ServerCPUSeconds    float64 `json:"server_cpu_seconds"`
	ServerCPUPerMillion float64 `json:"server_cpu_s_per_1m"` // per million deliveries
	runner.Usage
	ServerHWM        uint64 `json:"server_rss_peak_bytes"`
	ServerThreads    int    `json:"server_threads"`
	ServerGoroutines int64  `json:"server_goroutines"`

	Failure string `json:"failure,omitempty"`
}

// Failed is rep marked as failed for why.
func (rep Rep) Failed(why string) Rep {
	rep.Failure = why
	return rep
}

// Summary is over the clean repetitions; the failure counters are over all.
type Summary struct {
	Reps             int            `json:"reps"`
	DeliveriesPerSec summary.Spread `json:"deliveries_per_sec"`
	P50MS            summary.Spread `json:"p50_ms"`
	P99MS            summary.Spread `json:"p99_ms"`
	P999MS           summary.Spread `json:"p999_ms"`
	MaxMS            summary.Spread `json:"max_ms"`
	CPUPerMillion    summary.Spread `json:"server_cpu_s_per_1m"`
	CPUCores         summary.Spread `json:"server_cpu_cores"`
	ClientCPUCores   summary.Spread `json:"client_cpu_cores"`
	RSSBytes         summary.Spread `json:"server_rss_bytes"`
	SetupSeconds     summary.Spread `json:"setup_seconds"`

	Published    uint64 `json:"published"` // all repetitions
	Acks         uint64 `json:"acks"`
	Gaps         uint64 `json:"gaps"`
	Dups         uint64 `json:"dups"`
	ServerClosed int    `json:"server_closed"`
	Undelivered  uint64 `json:"undelivered"`

	runner.Noise
}

// summarize summarizes the repetitions: the spreads over those without a
// failure, the counters and the noise over all.
func summarize(reps []Rep) Summary {
	var tput, p50, p99, p999, mx, cpu, cores, client, rss, setup []float64
	s := Summary{}
	for _, rep := range reps {
		s.Published += rep.Published
		s.Acks += rep.Acks
		s.Gaps += rep.Gaps
		s.Dups += rep.Dups
		s.ServerClosed += rep.ServerClosed
		s.Undelivered += rep.Undelivered
		s.Noise.Add(rep.Usage)
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
	s.DeliveriesPerSec, s.P50MS, s.P99MS, s.P999MS, s.MaxMS = summary.SpreadOf(tput), summary.SpreadOf(p50), summary.SpreadOf(p99), summary.SpreadOf(p999), summary.SpreadOf(mx)
	s.CPUPerMillion, s.CPUCores, s.ClientCPUCores = summary.SpreadOf(cpu), summary.SpreadOf(cores), summary.SpreadOf(client)
	s.RSSBytes, s.SetupSeconds = summary.SpreadOf(rss), summary.SpreadOf(setup)
	return s
}
