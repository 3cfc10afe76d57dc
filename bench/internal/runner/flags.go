package runner

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Flags are the controller flags every scenario takes: the server to start,
// the report to write and the worker processes to run.
type Flags struct {
	ServerBin  string
	ServerArgs string // split on spaces, before --addr and --admin-addr
	Name       string // of the server (or configuration) in reports
	Out        string // output path without extension
	Repo       string // git repository of the server, for the commit
	Path       string // WebSocket path on the server
	SrcBase    netip.Addr
	Clients    int // worker processes, one source address each
	HealthWait time.Duration

	src string // --src-base as given
}

// FlagDefaults are the defaults and help texts that differ between
// scenarios.
// An empty help text stands for the usual one.
type FlagDefaults struct {
	ServerBinHelp  string // what --server-bin is: "server binary to start"
	ServerArgs     string
	ServerArgsHelp string // "arguments before --addr/--admin-addr, split on spaces"
	Name           string // empty: --name is required
	NameHelp       string // "name of the server in reports"
	Path           string
	PathHelp       string // "WebSocket path on the server"
	Clients        int
}

// or is s, or else when s is empty.
func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// Register adds f's flags to fs.
func (f *Flags) Register(fs *flag.FlagSet, d FlagDefaults) {
	fs.StringVar(&f.ServerBin, "server-bin", "", or(d.ServerBinHelp, "server binary to start")+" (required)")
	fs.StringVar(&f.ServerArgs, "server-args", d.ServerArgs, or(d.ServerArgsHelp, "arguments before --addr/--admin-addr, split on spaces"))
	name := or(d.NameHelp, "name of the server in reports")
	if d.Name == "" {
		name += " (required)"
	}
	fs.StringVar(&f.Name, "name", d.Name, name)
	fs.StringVar(&f.Out, "out", "", "output path without extension: writes <out>.json, <out>.md, <out>.server.log (required)")
	fs.StringVar(&f.Repo, "repo", ".", "git repository of the server, for the commit in the report")
	fs.StringVar(&f.Path, "path", d.Path, or(d.PathHelp, "WebSocket path on the server"))
	fs.StringVar(&f.src, "src-base", "127.0.0.2", "source address of the first worker; the next ones count up")
	fs.IntVar(&f.Clients, "clients", d.Clients, "worker processes, each with its own source address")
	fs.DurationVar(&f.HealthWait, "health-timeout", 30*time.Second, "bound on waiting for /healthz after start")
}

func (f *Flags) check() error {
	switch {
	case f.ServerBin == "":
		return errors.New("--server-bin is required")
	case f.Name == "":
		return errors.New("--name is required")
	case f.Out == "":
		return errors.New("--out is required")
	case f.Clients < 1 || f.Clients > 200:
		return errors.New("--clients must be between 1 and 200")
	}
	var err error
	if f.SrcBase, err = netip.ParseAddr(f.src); err != nil || !f.SrcBase.Is4() || !f.SrcBase.IsLoopback() {
		return fmt.Errorf("--src-base %q must be an IPv4 loopback address", f.src)
	}
	return nil
}

// Timing is the flags of the scenarios that measure a window in
// repetitions, each against a fresh server.
type Timing struct {
	Reps     int
	Warmup   time.Duration // load before the window, not measured
	Duration time.Duration // the measured window
}

// Register adds t's flags to fs with these defaults; warmupHelp says what
// the warmup is in the scenario's words.
func (t *Timing) Register(fs *flag.FlagSet, duration, warmup time.Duration, warmupHelp string) {
	fs.DurationVar(&t.Duration, "duration", duration, "measured window of each repetition")
	fs.DurationVar(&t.Warmup, "warmup", warmup, warmupHelp)
	fs.IntVar(&t.Reps, "reps", 1, "repetitions, each against a freshly started server")
}

func (t *Timing) check() error {
	switch {
	case t.Duration <= 0 || t.Warmup < 0:
		return errors.New("--duration must be positive and --warmup not negative")
	case t.Reps < 1:
		return errors.New("--reps must be at least 1")
	}
	return nil
}

// Dialing is the flags of the controllers whose workers dial many
// connections up front.
type Dialing struct {
	Concurrency  int // dials in flight per worker
	MaxPerClient int // the most connections a plan may put on one worker
}

// Register adds d's flags to fs.
func (d *Dialing) Register(fs *flag.FlagSet) {
	fs.IntVar(&d.Concurrency, "dial-concurrency", 32, "dials in flight per worker")
	fs.IntVar(&d.MaxPerClient, "max-per-client", 5000, "refuse a plan that puts more connections than this on one worker (fd limits)")
}

func (d *Dialing) check() error {
	if d.Concurrency < 1 {
		return errors.New("--dial-concurrency must be at least 1")
	}
	return nil
}

// WorkerFlags are the flags every worker process takes: where it dials
// from and what.
type WorkerFlags struct {
	Src net.IP // loopback source address of every dial
	URL string

	src string
}

// Register adds w's flags to fs; urlHelp describes --url.
func (w *WorkerFlags) Register(fs *flag.FlagSet, urlHelp string) {
	fs.StringVar(&w.src, "src", "127.0.0.2", "loopback source address to dial from")
	fs.StringVar(&w.URL, "url", "", urlHelp)
}

// Args is w as worker flags, for the controller to pass on.
func (w WorkerFlags) Args() []string { return []string{"--src", w.Src.String(), "--url", w.URL} }

func (w *WorkerFlags) check() error {
	w.Src = net.ParseIP(w.src)
	switch {
	case w.Src == nil || !w.Src.IsLoopback():
		return fmt.Errorf("--src %q is not a loopback address", w.src)
	case w.URL == "":
		return errors.New("--url is required")
	}
	return nil
}

// WorkerDialing is the flags of the workers that dial many connections up
// front.
type WorkerDialing struct {
	Concurrency int           // dials in flight at once
	Timeout     time.Duration // bound on one TCP connect plus handshake
}

// Register adds d's flags to fs.
func (d *WorkerDialing) Register(fs *flag.FlagSet) {
	fs.IntVar(&d.Concurrency, "dial-concurrency", 32, "dials in flight at once")
	fs.DurationVar(&d.Timeout, "dial-timeout", 10*time.Second, "bound on TCP connect plus handshake")
}

func (d *WorkerDialing) check() error {
	if d.Concurrency < 1 {
		return errors.New("--dial-concurrency must be at least 1")
	}
	return nil
}

// Checked is a group of flags Parse checks once they are parsed: *Flags,
// *Timing, *Dialing, *WorkerFlags, *WorkerDialing.
type Checked interface{ check() error }

// Parse parses args, which must hold nothing but flags, into fs and checks
// every group of flags, in order.
func Parse(fs *flag.FlagSet, args []string, groups ...Checked) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, g := range groups {
		if err := g.check(); err != nil {
			return err
		}
	}
	return nil
}

// Share is worker i's share when total is split as evenly as it goes over
// n workers, the first ones taking one more.
func Share(total, n, i int) int {
	s := total / n
	if i < total%n {
		s++
	}
	return s
}
