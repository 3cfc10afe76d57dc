package idle

import (
	"github.com/switchboard-chat/switchboard/bench/internal/fit"
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
)

// Result is one idle run: what was run, on what, every sample, the fits and
// the projection. It is the schema of <out>.json.
type Result struct {
	Name string `json:"name"`
	Meta Meta   `json:"meta"`

	Baseline *Sample  `json:"baseline,omitempty"` // before any client connected
	Steps    []Sample `json:"steps"`
	// Failure is empty when every step reached its count; otherwise it says
	// which step failed and why, and later steps were not run.
	Failure string `json:"failure,omitempty"`

	Fits       map[string]fit.Line `json:"fits"`
	Projection Projection          `json:"projection"`
}

// Meta is the reproduction information of a run.
type Meta struct {
	Command       string            `json:"command"` // exactly as run, shell-quoted
	ServerBin     string            `json:"server_bin"`
	ServerArgs    []string          `json:"server_args"` // full argv after the binary
	ServerCommit  string            `json:"server_commit"`
	ServerGo      string            `json:"server_go"`
	Machine       sysinfo.Machine   `json:"machine"`
	Sysctls       map[string]string `json:"sysctls"`
	NofileSwload  sysinfo.Rlimit    `json:"nofile_swload"`
	NofileServer  string            `json:"nofile_server"`
	Clients       int               `json:"clients"`
	SourceAddrs   []string          `json:"source_addrs"`
	StepTargets   []int             `json:"step_targets"`
	SettleSeconds float64           `json:"settle_seconds"`
	CPUWindowSecs float64           `json:"cpu_window_seconds"`
	GCWaitSeconds float64           `json:"gc_wait_seconds"`
	SlabinfoOK    bool              `json:"slabinfo_readable"`
	Started       string            `json:"started"`
	Finished      string            `json:"finished"`
}

// Fit names, in report order, with what they fit against connections.
const (
	FitRSS        = "rss"         // VmRSS
	FitRSSAnon    = "rss_anon"    // RssAnon
	FitHeapInuse  = "heap_inuse"  // Go heap in use
	FitStackInuse = "stack_inuse" // Go stacks
	FitGoroutines = "goroutines"
	FitThreads    = "threads"
	FitFDs        = "fds"
	FitKernel     = "kernel"      // meminfo Slab + sockstat TCP mem, machine-wide
	FitSocketSlab = "socket_slab" // the socket slab caches, machine-wide
	FitCPU        = "cpu_cores"
	// FitKernelPerTCP fits kernel bytes against the machine's TCP sockets in
	// use (sockstat) rather than against connections: a cross-check of the
	// per-socket cost that stays right when other processes open sockets
	// during the run. Its "points" are the same samples.
	FitKernelPerTCP = "kernel_per_tcp_socket"
)

// FitOrder lists the fits in the order reports show them.
var FitOrder = []string{FitRSS, FitRSSAnon, FitHeapInuse, FitStackInuse, FitGoroutines, FitThreads, FitFDs, FitKernel, FitSocketSlab, FitKernelPerTCP, FitCPU}

// points returns the samples fits are computed over: the baseline and every
// completed step.
func (r *Result) points() []Sample {
	var ps []Sample
	if r.Baseline != nil {
		ps = append(ps, *r.Baseline)
	}
	return append(ps, r.Steps...)
}

// ComputeFits fits every metric against the server-reported connection
// count. A metric that cannot be fitted (fewer than two points, or missing
// slab data) is left out.
func (r *Result) ComputeFits() {
	ps := r.points()
	x := make([]float64, len(ps))
	for i, s := range ps {
		x[i] = float64(s.Conns)
	}
	metric := map[string]func(Sample) float64{
		FitRSS:        func(s Sample) float64 { return float64(s.Proc.VmRSS) },
		FitRSSAnon:    func(s Sample) float64 { return float64(s.Proc.RssAnon) },
		FitHeapInuse:  func(s Sample) float64 { return float64(s.Go.HeapInuse) },
		FitStackInuse: func(s Sample) float64 { return float64(s.Go.StackInuse) },
		FitGoroutines: func(s Sample) float64 { return float64(s.Go.Goroutines) },
		FitThreads:    func(s Sample) float64 { return float64(s.Proc.Threads) },
		FitFDs:        func(s Sample) float64 { return float64(s.FDs) },
		FitKernel:     func(s Sample) float64 { return float64(s.KernelBytes) },
		FitSocketSlab: func(s Sample) float64 { return float64(s.SocketSlabBytes) },
		FitCPU:        func(s Sample) float64 { return s.CPUCores },
	}
	r.Fits = make(map[string]fit.Line)
	for name, f := range metric {
		if name == FitSocketSlab && !r.Meta.SlabinfoOK {
			continue
		}
		y := make([]float64, len(ps))
		for i, s := range ps {
			y[i] = f(s)
		}
		if l, err := fit.Linear(x, y); err == nil {
			r.Fits[name] = l
		}
	}
	tcp := make([]float64, len(ps))
	kernel := make([]float64, len(ps))
	for i, s := range ps {
		tcp[i] = float64(s.Sockstat.TCPInuse)
		kernel[i] = float64(s.KernelBytes)
	}
	if l, err := fit.Linear(tcp, kernel); err == nil {
		r.Fits[FitKernelPerTCP] = l
	}
	r.Projection = Project(r.Fits, ProjectionConns)
}

// ProjectionConns is the connection count reports project to.
const ProjectionConns = 1_000_000

// Projection extrapolates the fits to Conns connections.
//
// Kernel numbers are machine-wide deltas, and on loopback the client end of
// each connection lives in the same kernel as the server end, so the
// per-server-socket cost is half the slope. Real clients are remote and do
// not cost the server's kernel anything.
type Projection struct {
	Conns float64 `json:"conns"`

	UserPerConn       float64 `json:"user_bytes_per_conn"`          // RSS slope
	HeapPerConn       float64 `json:"heap_bytes_per_conn"`          // heap_inuse slope
	KernelPerSocket   float64 `json:"kernel_bytes_per_socket"`      // kernel slope / 2
	SlabPerSocket     float64 `json:"socket_slab_bytes_per_socket"` // socket_slab slope / 2, 0 if unknown
	GoroutinesPerConn float64 `json:"goroutines_per_conn"`
	CPUCoresPer1k     float64 `json:"cpu_cores_per_1k_conns"`

	UserBytes   float64 `json:"user_bytes"`   // RSS fit at Conns (includes the intercept)
	KernelBytes float64 `json:"kernel_bytes"` // KernelPerSocket * Conns
	TotalBytes  float64 `json:"total_bytes"`
}

// Project computes a Projection from fits; missing fits give zeros.
func Project(fits map[string]fit.Line, conns float64) Projection {
	p := Projection{Conns: conns}
	if l, ok := fits[FitRSS]; ok {
		p.UserPerConn = l.Slope
		p.UserBytes = l.At(conns)
	}
	if l, ok := fits[FitHeapInuse]; ok {
		p.HeapPerConn = l.Slope
	}
	if l, ok := fits[FitKernel]; ok {
		p.KernelPerSocket = l.Slope / 2
		p.KernelBytes = p.KernelPerSocket * conns
	}
	if l, ok := fits[FitSocketSlab]; ok {
		p.SlabPerSocket = l.Slope / 2
	}
	if l, ok := fits[FitGoroutines]; ok {
		p.GoroutinesPerConn = l.Slope
	}
	if l, ok := fits[FitCPU]; ok {
		p.CPUCoresPer1k = l.Slope * 1000
	}
	p.TotalBytes = p.UserBytes + p.KernelBytes
	return p
}
