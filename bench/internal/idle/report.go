package idle

import (
	"fmt"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"io"
	"math"
	"strings"
)

// writeResult writes <out>.json and <out>.md.
func writeResult(out string, res *Result) error {
	return reportfile.Write(out, res, WriteMarkdown)
}

// ReadResult loads a Result written by a run.
func ReadResult(path string) (*Result, error) { return reportfile.Read[Result](path) }

// WriteMarkdown renders the human report of one run.
func WriteMarkdown(w io.Writer, r *Result) {
	m := r.Meta
	p := r.Projection
	fmt.Fprintf(w, "# Idle connections: %s\n\n", r.Name)
	fmt.Fprintf(w, "**Result:** %s\n\n", conclusion(r))

	fmt.Fprintf(w, "## How it was run\n\n```sh\n%s\n```\n\n", m.Command)
	fmt.Fprintf(w, "| | |\n|---|---|\n")
	fmt.Fprintf(w, "| server command | `%s %s` |\n", m.ServerBin, strings.Join(m.ServerArgs, " "))
	fmt.Fprintf(w, "| server commit | %s |\n", m.ServerCommit)
	fmt.Fprintf(w, "| server built with | %s |\n", m.ServerGo)
	fmt.Fprintf(w, "| swload built with | %s |\n", m.Machine.GoVersion)
	fmt.Fprintf(w, "| machine | %d CPUs, %s, MemTotal %s, page %d B |\n", m.Machine.NProc, m.Machine.CPUModel, human(float64(m.Machine.MemTotal)), m.Machine.PageSize)
	fmt.Fprintf(w, "| kernel | %s |\n", m.Machine.Kernel)
	fmt.Fprintf(w, "| RLIMIT_NOFILE | swload %d soft / %d hard; server %s |\n", m.NofileSwload.Soft, m.NofileSwload.Hard, m.NofileServer)
	fmt.Fprintf(w, "| clients | %d worker processes from %s |\n", m.Clients, strings.Join(m.SourceAddrs, ", "))
	fmt.Fprintf(w, "| started / finished | %s / %s |\n\n", m.Started, m.Finished)

	reportfile.WriteSysctls(w, m.Sysctls)

	fmt.Fprintf(w, "\n## Method\n\n")
	fmt.Fprintf(w, "Each worker process dials `ws://…` from its own loopback source address, completes the RFC 6455 handshake, "+
		"then holds the connection idle, answering pings. At each step the controller waits until the server's "+
		"`/debug/stats` reports exactly the step's count, waits %gs to settle, measures server CPU (utime+stime) over %gs, "+
		"sends `POST /debug/gc` (GC + FreeOSMemory), waits %gs, then samples `/proc/PID/status`, `/proc/PID/fd`, "+
		"`/debug/stats`, `/proc/net/sockstat`, `/proc/meminfo` and `/proc/slabinfo`. Fits are least squares over the "+
		"baseline (0 connections) and every step, against the count the server reported.\n\n",
		m.SettleSeconds, m.CPUWindowSecs, m.GCWaitSeconds)
	fmt.Fprintf(w, "Kernel memory is machine-wide (meminfo Slab + sockstat TCP mem pages × page size). On loopback both ends "+
		"of every connection live in the same kernel, so **kernel bytes per server socket ≈ kernel slope / 2**. "+
		"Other activity on the machine shows up in it as noise; R² says how much. The `kernel_per_tcp_socket` fit is a "+
		"cross-check that divides by every TCP socket on the machine (sockstat inuse) instead, so sockets other processes "+
		"open during the run do not inflate it.\n")
	if !m.SlabinfoOK {
		fmt.Fprintf(w, "\n/proc/slabinfo was not readable, so per-cache slab numbers are missing; the kernel figure uses meminfo Slab only.\n")
	}

	fmt.Fprintf(w, "\n## Steps\n\n")
	fmt.Fprintf(w, "| conns | RSS MiB | RssAnon MiB | heap inuse MiB | stacks MiB | goroutines | threads | fds | TCP inuse | TCP mem pages | Slab MiB | socket slab MiB | kernel MiB | CPU %% of a core | ramp s |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.points() {
		fmt.Fprintf(w, "| %d | %.1f | %.1f | %.1f | %.1f | %d | %d | %d | %d | %d | %.1f | %.1f | %.1f | %.2f | %.1f |\n",
			s.Conns, mibf(s.Proc.VmRSS), mibf(s.Proc.RssAnon), mibf(s.Go.HeapInuse), mibf(s.Go.StackInuse),
			s.Go.Goroutines, s.Proc.Threads, s.FDs, s.Sockstat.TCPInuse, s.Sockstat.TCPMemPages,
			mibf(s.Meminfo.Slab), mibf(s.SocketSlabBytes), mibf(s.KernelBytes), 100*s.CPUCores, s.RampSeconds)
	}
	if r.Failure != "" {
		fmt.Fprintf(w, "\n**FAILED:** %s\n", r.Failure)
	}

	fmt.Fprintf(w, "\n## Fits (per connection)\n\n| metric | slope per conn | intercept | R² | points |\n|---|---:|---:|---:|---:|\n")
	for _, name := range FitOrder {
		l, ok := r.Fits[name]
		if !ok {
			continue
		}
		slope, icpt := fmt.Sprintf("%.1f B", l.Slope), human(l.Intercept)
		switch name {
		case FitGoroutines, FitThreads, FitFDs:
			slope, icpt = fmt.Sprintf("%.4f", l.Slope), fmt.Sprintf("%.1f", l.Intercept)
		case FitCPU:
			slope, icpt = fmt.Sprintf("%.3g%% of a core per 1k", l.Slope*1000*100), fmt.Sprintf("%.2f%%", l.Intercept*100)
		}
		if name == FitKernelPerTCP {
			slope = fmt.Sprintf("%.1f B per TCP socket", l.Slope)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.4f | %d |\n", name, slope, icpt, l.R2, l.N)
	}

	fmt.Fprintf(w, "\n## Projection to %s connections\n\n", humanCount(p.Conns))
	fmt.Fprintf(w, "| | per connection | at %s |\n|---|---:|---:|\n", humanCount(p.Conns))
	fmt.Fprintf(w, "| user space (RSS) | %.0f B | %s |\n", p.UserPerConn, human(p.UserBytes))
	fmt.Fprintf(w, "| of which Go heap in use | %.0f B | |\n", p.HeapPerConn)
	fmt.Fprintf(w, "| kernel, per server socket (slope / 2) | %.0f B | %s |\n", p.KernelPerSocket, human(p.KernelBytes))
	if p.SlabPerSocket != 0 {
		fmt.Fprintf(w, "| of which socket slab caches | %.0f B | |\n", p.SlabPerSocket)
	}
	fmt.Fprintf(w, "| **total** | %.0f B | **%s** |\n", p.UserPerConn+p.KernelPerSocket, human(p.TotalBytes))
	fmt.Fprintf(w, "\nProjected RSS at %s: %s, kernel at %s: %s. Goroutines per connection: %.4f. Idle CPU: %.3g%% of a core per 1,000 connections.\n",
		humanCount(p.Conns), human(p.UserBytes), humanCount(p.Conns), human(p.KernelBytes), p.GoroutinesPerConn, p.CPUCoresPer1k*100)

	fmt.Fprintf(w, "\n## Conclusion\n\n%s\n", conclusion(r))
}

// conclusion is the plain-words line of a report.
func conclusion(r *Result) string {
	p := r.Projection
	rss, ok := r.Fits[FitRSS]
	if !ok {
		return fmt.Sprintf("no fit possible (%s)", orNone(r.Failure))
	}
	var max int64
	for _, s := range r.Steps {
		max = s.Conns
	}
	linear := "linear"
	if rss.R2 < 0.98 {
		linear = "not clearly linear"
	}
	gor := "no goroutine per connection"
	if p.GoroutinesPerConn > 0.5 {
		gor = fmt.Sprintf("%.2f goroutines per connection", p.GoroutinesPerConn)
	}
	s := fmt.Sprintf("%s held %d idle connections; user memory is %s (R² %.3f) at %.1f KiB per connection, kernel %.1f KiB per server socket, with %s; "+
		"projected to %s connections: %s user + %s kernel = %s.",
		r.Name, max, linear, rss.R2, p.UserPerConn/1024, p.KernelPerSocket/1024, gor,
		humanCount(p.Conns), human(p.UserBytes), human(p.KernelBytes), human(p.TotalBytes))
	if r.Failure != "" {
		s += " The run FAILED before its last step: " + r.Failure
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "too few steps"
	}
	return s
}

func mibf(b uint64) float64 { return float64(b) / (1 << 20) }

// human writes a byte count in binary units.
func human(b float64) string {
	abs := math.Abs(b)
	switch {
	case abs >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case abs >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case abs >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}

func humanCount(n float64) string {
	if n >= 1e6 && math.Mod(n, 1e6) == 0 {
		return fmt.Sprintf("%gM", n/1e6)
	}
	return fmt.Sprintf("%.0f", n)
}
