package sysctl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// Host is what Preflight looks at, as read from /proc.
type Host struct {
	NofileSoft, NofileHard uint64    // this process's RLIMIT_NOFILE (/proc/self/limits)
	NrOpen                 uint64    // fs.nr_open
	FileMax                uint64    // fs.file-max
	PortLo, PortHi         uint64    // net.ipv4.ip_local_port_range
	Somaxconn              uint64    // net.core.somaxconn
	TCPMem                 [3]uint64 // net.ipv4.tcp_mem, pages: low, pressure, high
	MemAvailable           uint64    // bytes (/proc/meminfo)
}

// ReadHost reads Host from proc, a file system rooted at /proc (os.DirFS("/proc")
// on a real box, a fake one in tests).
func ReadHost(proc fs.FS) (Host, error) {
	var h Host
	var errs []error
	num := func(name string, dst ...*uint64) {
		b, err := fs.ReadFile(proc, name)
		if err != nil {
			errs = append(errs, err)
			return
		}
		f := strings.Fields(string(b))
		if len(f) < len(dst) {
			errs = append(errs, fmt.Errorf("%s: %d fields, want %d", name, len(f), len(dst)))
			return
		}
		for i, d := range dst {
			v, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				return
			}
			*d = v
		}
	}
	num("sys/fs/nr_open", &h.NrOpen)
	num("sys/fs/file-max", &h.FileMax)
	num("sys/net/ipv4/ip_local_port_range", &h.PortLo, &h.PortHi)
	num("sys/net/core/somaxconn", &h.Somaxconn)
	num("sys/net/ipv4/tcp_mem", &h.TCPMem[0], &h.TCPMem[1], &h.TCPMem[2])
	if err := readLimits(proc, &h); err != nil {
		errs = append(errs, err)
	}
	if err := readMemAvailable(proc, &h); err != nil {
		errs = append(errs, err)
	}
	return h, errors.Join(errs...)
}

// readLimits takes "Max open files" from self/limits; "unlimited" counts
// as the largest value.
func readLimits(proc fs.FS, h *Host) error {
	b, err := fs.ReadFile(proc, "self/limits")
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Max open files")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			break
		}
		soft, err1 := limitValue(f[0])
		hard, err2 := limitValue(f[1])
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("self/limits: %w", err)
		}
		h.NofileSoft, h.NofileHard = soft, hard
		return nil
	}
	return errors.New("self/limits: no \"Max open files\" line")
}

func limitValue(s string) (uint64, error) {
	if s == "unlimited" {
		return ^uint64(0), nil
	}
	return strconv.ParseUint(s, 10, 64)
}

func readMemAvailable(proc fs.FS, h *Host) error {
	f, err := proc.Open("meminfo")
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return fmt.Errorf("meminfo: MemAvailable: %w", err)
			}
			h.MemAvailable = kb << 10
			return nil
		}
	}
	return errors.New("meminfo: no MemAvailable line")
}

// Cost is the memory one idle connection costs, measured.
type Cost struct {
	Backend   string
	User      float64 // bytes per connection in the server process (RSS slope)
	Kernel    float64 // bytes per server-side TCP socket
	BaseBytes float64 // the server's RSS with no connection
}

// Costs are the per-connection costs measured by `make bench-idle`
// (bench/results/idle.md, commit 09142ee, 1,000 → 19,000 idle connections,
// every fit linear with R² ≥ 0.99): user space is the slope of the
// server's RSS after a forced GC, kernel the machine-wide slab + TCP
// memory slope halved (both ends of a loopback connection live in one
// kernel).
var Costs = map[string]Cost{
	"epoll":   {Backend: "epoll", User: 625, Kernel: 4746, BaseBytes: 11 << 20},
	"netpoll": {Backend: "netpoll", User: 4647, Kernel: 4605, BaseBytes: 11 << 20},
}

// PageSize is the unit of tcp_mem.
const PageSize = 4096

// Status of one check.
type Status string

// Statuses, from good to bad. Only Cap fails preflight.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Cap  Status = "CAP"
)

// Check is one line of the preflight report.
type Check struct {
	Name   string
	Status Status
	Detail string // what was found and what the target needs
	Fix    string // the exact command; empty when nothing is to be done
	Limit  uint64 // connections this setting allows, when it caps (0: no cap)
}

// Report is the preflight verdict for a connection target.
type Report struct {
	Conns  uint64
	Cost   Cost
	Checks []Check
}

// Failed reports whether some setting caps the target.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Cap {
			return true
		}
	}
	return false
}

// MaxConns is the most connections the host allows as configured: the
// smallest cap, or the target when nothing caps it.
func (r Report) MaxConns() uint64 {
	m := r.Conns
	for _, c := range r.Checks {
		if c.Status == Cap && c.Limit < m {
			m = c.Limit
		}
	}
	return m
}

// fdReserve is the descriptors the server needs beside its connections:
// listeners (one per loop), epoll and event fds, logs, store clients.
const fdReserve = 1000

// Preflight checks h against a target of conns connections that cost
// cost each.
func Preflight(h Host, conns uint64, cost Cost) Report {
	r := Report{Conns: conns, Cost: cost}
	needFDs := conns + fdReserve
	add := func(c Check) { r.Checks = append(r.Checks, c) }
	fdLimit := func(have uint64) uint64 {
		if have <= fdReserve {
			return 0
		}
		return have - fdReserve
	}

	// RLIMIT_NOFILE: serve raises the soft limit to the hard one.
	switch {
	case h.NofileHard < needFDs:
		add(Check{Name: "RLIMIT_NOFILE", Status: Cap, Limit: fdLimit(h.NofileHard),
			Detail: fmt.Sprintf("hard limit %d < %d (connections + %d for listeners, logs, store)", h.NofileHard, needFDs, fdReserve),
			Fix:    fmt.Sprintf("LimitNOFILE=%d in switchboard.service (systemd), or `ulimit -Hn %d` as root before starting, or sysctl/limits.conf for login sessions", needFDs, needFDs)})
	case h.NofileSoft < needFDs:
		add(Check{Name: "RLIMIT_NOFILE", Status: OK,
			Detail: fmt.Sprintf("soft %d, hard %d: serve raises the soft limit to the hard one at start", h.NofileSoft, h.NofileHard)})
	default:
		add(Check{Name: "RLIMIT_NOFILE", Status: OK, Detail: fmt.Sprintf("soft %d, hard %d ≥ %d", h.NofileSoft, h.NofileHard, needFDs)})
	}
	if h.NrOpen < needFDs {
		add(Check{Name: "fs.nr_open", Status: Cap, Limit: fdLimit(h.NrOpen),
			Detail: fmt.Sprintf("%d < %d: no process may have more open files", h.NrOpen, needFDs),
			Fix:    fmt.Sprintf("sysctl -w fs.nr_open=%d", needFDs)})
	} else {
		add(Check{Name: "fs.nr_open", Status: OK, Detail: fmt.Sprintf("%d ≥ %d", h.NrOpen, needFDs)})
	}
	// The whole box shares file-max; leave room for everything else.
	needFileMax := needFDs + needFDs/10
	if h.FileMax < needFDs {
		add(Check{Name: "fs.file-max", Status: Cap, Limit: fdLimit(h.FileMax),
			Detail: fmt.Sprintf("%d < %d: the system runs out of files first", h.FileMax, needFDs),
			Fix:    fmt.Sprintf("sysctl -w fs.file-max=%d", needFileMax)})
	} else {
		add(Check{Name: "fs.file-max", Status: OK, Detail: fmt.Sprintf("%d ≥ %d", h.FileMax, needFDs)})
	}

	// Memory: measured cost per idle connection, user space + kernel.
	per := cost.User + cost.Kernel
	need := cost.BaseBytes + per*float64(conns)
	if float64(h.MemAvailable) < need {
		limit := uint64(0)
		if avail := float64(h.MemAvailable) - cost.BaseBytes; avail > 0 {
			limit = uint64(avail / per)
		}
		add(Check{Name: "memory", Status: Cap, Limit: limit,
			Detail: fmt.Sprintf("MemAvailable %s < %s for %d idle connections at %.0f B each (%.0f B user, %s backend, + %.0f B kernel; bench/results/idle.md)",
				gib(float64(h.MemAvailable)), gib(need), conns, per, cost.User, cost.Backend, cost.Kernel),
			Fix: fmt.Sprintf("free memory or add RAM: the target needs %s available; this box holds about %d idle connections", gib(need), limit)})
	} else {
		add(Check{Name: "memory", Status: OK,
			Detail: fmt.Sprintf("MemAvailable %s ≥ %s for %d idle connections at %.0f B each (%s backend; bench/results/idle.md); busy connections need more for buffers",
				gib(float64(h.MemAvailable)), gib(need), conns, per, cost.Backend)})
	}

	// tcp_mem caps socket buffers, not sockets: idle connections hold
	// none, but a broadcast to every client queues about a page on each.
	if high := h.TCPMem[2] * PageSize; high < conns*PageSize {
		add(Check{Name: "net.ipv4.tcp_mem", Status: Warn,
			Detail: fmt.Sprintf("high %d pages = %s: a message to all %d clients at once needs about %s of socket buffers; past high the kernel drops data",
				h.TCPMem[2], gib(float64(high)), conns, gib(float64(conns*PageSize))),
			Fix: fmt.Sprintf("sysctl -w net.ipv4.tcp_mem=\"%d %d %d\"", conns/2, conns*3/4, conns)})
	} else {
		add(Check{Name: "net.ipv4.tcp_mem", Status: OK,
			Detail: fmt.Sprintf("high %d pages = %s, a page per connection for a broadcast to all", h.TCPMem[2], gib(float64(high)))})
	}
	// somaxconn: a reconnect storm after a restart.
	const wantBacklog = 4096
	if h.Somaxconn < wantBacklog {
		add(Check{Name: "net.core.somaxconn", Status: Warn,
			Detail: fmt.Sprintf("%d: after a restart %d clients reconnect at once and overflow a short accept queue (SYNs dropped, clients retry after 1 s, 3 s, ...)", h.Somaxconn, conns),
			Fix:    "sysctl -w net.core.somaxconn=65535"})
	} else {
		add(Check{Name: "net.core.somaxconn", Status: OK, Detail: fmt.Sprintf("%d", h.Somaxconn)})
	}
	// Ephemeral ports matter for outgoing connections only: the store
	// clients, and load generators that run on this box.
	ports := uint64(0)
	if h.PortHi >= h.PortLo {
		ports = h.PortHi - h.PortLo + 1
	}
	detail := fmt.Sprintf("%d..%d: %d ports per source address and destination; inbound connections use none, "+
		"a load generator needs %d source addresses for %d connections to one server port", h.PortLo, h.PortHi, ports, ceilDiv(conns, ports), conns)
	if ports < 28000 {
		add(Check{Name: "net.ipv4.ip_local_port_range", Status: Warn, Detail: detail, Fix: `sysctl -w net.ipv4.ip_local_port_range="1024 65535"`})
	} else {
		add(Check{Name: "net.ipv4.ip_local_port_range", Status: OK, Detail: detail})
	}
	return r
}

func ceilDiv(a, b uint64) uint64 {
	if b == 0 {
		return 0
	}
	return (a + b - 1) / b
}

func gib(b float64) string { return fmt.Sprintf("%.2f GiB", b/(1<<30)) }

// Write prints the report: one line per check, its fix indented below,
// then the verdict.
func (r Report) Write(w io.Writer) {
	fmt.Fprintf(w, "switchboard preflight: target %d connections\n\n", r.Conns)
	for _, c := range r.Checks {
		fmt.Fprintf(w, "  %-4s  %-29s %s\n", c.Status, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "        fix: %s\n", c.Fix)
		}
	}
	if r.Failed() {
		fmt.Fprintf(w, "\nFAIL: this host caps switchboard at about %d connections (see CAP lines). Profiles: sysctl/ in the source tree.\n", r.MaxConns())
		return
	}
	fmt.Fprintf(w, "\nOK: nothing caps %d connections.\n", r.Conns)
}
