package fanout

import (
	"fmt"
	"io"

	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Describe says in words what load a run applied.
func (l Load) Describe() string {
	users := "each its own user"
	if l.Users > 0 && l.Users < l.totalMembers() {
		users = fmt.Sprintf("sharing %d user names", l.Users)
	}
	return fmt.Sprintf("%d room(s) × %d members (%s), %d publisher(s) at %g msgs/s in total (open loop, latency from each message's due time); "+
		"%gs warmup + %gs measured; %d worker processes", l.rooms(), l.Members, users, l.Publishers, l.Rate, l.WarmupSeconds, l.DurationSeconds, l.Clients)
}

// expected is the deliveries/s the load asks for: every publish to every
// member of its room.
func (l Load) expected() float64 { return l.Rate * float64(l.Members) }

// rooms is the number of rooms; results from before --rooms have 0.
func (l Load) rooms() int { return max(l.Rooms, 1) }

// totalMembers is the member connections over all rooms.
func (l Load) totalMembers() int { return l.Members * l.rooms() }

const method = "Each repetition starts the server afresh on free ports, waits for `/healthz`, and creates the rooms with one setup " +
	"connection. Member i joins room i %% rooms; each publisher joins the rooms it publishes to and publishes to them in turn. The worker processes, each on its own loopback source address, dial their share of the members " +
	"(`/ws?user=m<i>`) and publishers (`p<i>`), hand the sockets to one epoll loop each (no goroutine per connection), " +
	"send `join` on every connection and wait for every `joined` (setup time). All workers then start at one agreed " +
	"instant. Publishers publish open loop at fixed intervals, each body `{\"t\":<due time, unix ns>}` with a unique id; " +
	"members scan each `message` frame for `seq` and `t` without decoding JSON, record publish (due) → deliver latency " +
	"in a log-linear histogram (values within 0.8%%) and check that seq goes up by exactly 1 (gaps, duplicates). " +
	"Deliveries/s is `message` frames received by members within the measured window, divided by its length; " +
	"publishers' own copies are not counted. After the window the workers wait up to --drain for the rest; " +
	"\"undelivered\" is acks × connected members minus deliveries at that point. Server CPU is utime+stime " +
	"over the window from `/proc/PID/stat`; client CPU is the same for the workers, which share the cores with the " +
	"server. \"Other CPU\" is the machine's task CPU (`/proc/stat`, plus steal) that neither used; a repetition with more " +
	"than %.1f cores of it is called noisy. RSS is VmRSS at the window's end with every connection open. Peer servers " +
	"serve the same frames from a minimal room hub (bench/internal/peer): no presence, history, auth or durability."

// WriteMarkdown renders the human report of one run.
func WriteMarkdown(w io.Writer, r *Result) {
	reportfile.WriteHead(w, "Room fan-out: "+r.Name, conclusion(r), "", r.Meta, r.Load.Describe(), fmt.Sprintf(method, summary.NoiseCores))
	reportfile.WriteRepsHead(w, "setup s", "deliveries/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "published", "acks", "gaps", "dups",
		"closed by server", "undelivered", "server CPU s / 1M deliveries", "server CPU cores", "client CPU cores", "other CPU cores", "RSS MiB")
	for i, rep := range r.Reps {
		client := 0.0
		if rep.WindowSeconds > 0 {
			client = rep.ClientCPUSeconds / rep.WindowSeconds
		}
		fmt.Fprintf(w, "| %d | %.1f | %.0f | %.3f | %.3f | %.3f | %.3f | %d | %d | %d | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.1f | %s |\n",
			i+1, rep.SetupSeconds, rep.DeliveriesPerSec, rep.Latency.P50, rep.Latency.P99, rep.Latency.P999, rep.Latency.Max,
			rep.Published, rep.Acks, rep.Gaps, rep.Dups, rep.ServerClosed, rep.Undelivered, rep.ServerCPUPerMillion,
			rep.ServerCPUCores, client, rep.Other(), float64(rep.ServerRSS)/(1<<20), reportfile.Status(rep.Failure))
	}
	s := r.Summary
	reportfile.WriteSummaryHead(w, s.Reps)
	fmt.Fprintf(w, "| deliveries/s (asked: %.0f) | %s |\n", r.Load.expected(), summary.Text(s.DeliveriesPerSec, "%.0f"))
	fmt.Fprintf(w, "| p50 ms | %s |\n", summary.Text(s.P50MS, "%.3f"))
	fmt.Fprintf(w, "| p99 ms | %s |\n", summary.Text(s.P99MS, "%.3f"))
	fmt.Fprintf(w, "| p99.9 ms | %s |\n", summary.Text(s.P999MS, "%.3f"))
	fmt.Fprintf(w, "| max ms | %s |\n", summary.Text(s.MaxMS, "%.3f"))
	fmt.Fprintf(w, "| server CPU s per 1M deliveries | %s |\n", summary.Text(s.CPUPerMillion, "%.2f"))
	fmt.Fprintf(w, "| server CPU cores | %s |\n", summary.Text(s.CPUCores, "%.2f"))
	fmt.Fprintf(w, "| client CPU cores | %s |\n", summary.Text(s.ClientCPUCores, "%.2f"))
	fmt.Fprintf(w, "| server RSS MiB | %s |\n", summary.Text(summary.Scale(s.RSSBytes, 1<<20), "%.1f"))
	fmt.Fprintf(w, "| setup (dial + join) s | %s |\n", summary.Text(s.SetupSeconds, "%.1f"))
	fmt.Fprintf(w, "| published / acked (all reps) | %d / %d |\n", s.Published, s.Acks)
	fmt.Fprintf(w, "| seq gaps / duplicates (all reps) | %d / %d |\n", s.Gaps, s.Dups)
	fmt.Fprintf(w, "| members closed by the server (all reps) | %d |\n", s.ServerClosed)
	fmt.Fprintf(w, "| undelivered after the drain (all reps) | %d |\n", s.Undelivered)
	reportfile.WriteEnd(w, r.Failure, conclusion(r))
}

// sustained reports whether the clean repetitions kept up with the load:
// at least 95% of the asked deliveries/s, p99 under a second, nothing
// closed, nothing left undelivered.
func sustained(r *Result) bool {
	s := r.Summary
	return s.Reps > 0 && s.DeliveriesPerSec.Min >= 0.95*r.Load.expected() && s.P99MS.Max < 1000 &&
		s.ServerClosed == 0 && s.Undelivered == 0
}

// conclusion is the plain-words line of a report.
func conclusion(r *Result) string {
	s := r.Summary
	overloaded := ""
	if !sustained(r) {
		overloaded = "OVERLOADED: the server did not keep up with this load on this machine (fewer deliveries than asked, p99 over 1 s, members closed or messages undelivered)."
	}
	return r.Conclusion(s.Reps, fmt.Sprintf("%s delivered %s msgs/s (median of %d, range %.0f..%.0f; asked %s) to %d room(s) × %d members at %g publishes/s, "+
		"publish→deliver p50 %.3f ms, p99 %.3f ms (range %.3f..%.3f), p99.9 %.3f ms, spending %.2f server CPU seconds per million deliveries "+
		"(%.2f cores) at %.1f MiB RSS; %d gaps, %d duplicates.",
		r.Name, summary.Thousands(s.DeliveriesPerSec.Median), s.Reps, s.DeliveriesPerSec.Min, s.DeliveriesPerSec.Max, summary.Thousands(r.Load.expected()),
		r.Load.rooms(), r.Load.Members, r.Load.Rate, s.P50MS.Median, s.P99MS.Median, s.P99MS.Min, s.P99MS.Max, s.P999MS.Median,
		s.CPUPerMillion.Median, s.CPUCores.Median, s.RSSBytes.Median/(1<<20), s.Gaps, s.Dups),
		overloaded, s.Noise.Note(len(r.Reps), "."))
}
