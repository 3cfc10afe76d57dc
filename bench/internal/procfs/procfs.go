package procfs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// UserHZ is the unit of utime/stime in /proc/PID/stat. The kernel fixes the
// user-visible tick at 100 Hz on every architecture Go supports on Linux.
const UserHZ = 100

// Status is the part of /proc/PID/status the benchmarks use, in bytes.
type Status struct {
	VmRSS    uint64 `json:"vm_rss"`
	RssAnon  uint64 `json:"rss_anon"`
	RssFile  uint64 `json:"rss_file"`
	RssShmem uint64 `json:"rss_shmem"`
	VmHWM    uint64 `json:"vm_hwm"`
	Threads  int    `json:"threads"`
}

// ReadStatus reads /proc/PID/status.
func ReadStatus(pid int) (Status, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Status{}, err
	}
	defer f.Close()
	return ParseStatus(f)
}

// ParseStatus parses the text of /proc/PID/status.
func ParseStatus(r io.Reader) (Status, error) {
	var s Status
	kb := map[string]*uint64{"VmRSS": &s.VmRSS, "RssAnon": &s.RssAnon, "RssFile": &s.RssFile, "RssShmem": &s.RssShmem, "VmHWM": &s.VmHWM}
	err := scanFields(r, func(key, val string) {
		if p, ok := kb[key]; ok {
			*p = kB(val)
		} else if key == "Threads" {
			s.Threads, _ = strconv.Atoi(strings.TrimSpace(val))
		}
	})
	if err != nil {
		return s, err
	}
	if s.VmRSS == 0 {
		return s, fmt.Errorf("procfs: status has no VmRSS")
	}
	return s, nil
}

// scanFields calls set with the key and the value of every "key: value"
// line of r, as in /proc/PID/status and /proc/meminfo.
func scanFields(r io.Reader, set func(key, val string)) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if key, val, ok := strings.Cut(sc.Text(), ":"); ok {
			set(key, val)
		}
	}
	return sc.Err()
}

// kB parses "  1234 kB" into bytes.
func kB(val string) uint64 {
	f := strings.Fields(val)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseUint(f[0], 10, 64)
	if len(f) > 1 && f[1] == "kB" {
		n *= 1024
	}
	return n
}

// ReadCPUTicks returns utime+stime of the process in UserHZ ticks.
func ReadCPUTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return ParseStatCPU(string(b))
}

// ParseStatCPU extracts utime+stime from the text of /proc/PID/stat. The
// command name in field 2 may hold spaces and parentheses, so fields are
// counted from the last ')'.
func ParseStatCPU(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("procfs: malformed stat")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("procfs: stat has %d fields after comm", len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("procfs: bad utime/stime %q %q", f[11], f[12])
	}
	return ut + st, nil
}

// CountFDs counts the entries of /proc/PID/fd.
func CountFDs(pid int) (int, error) {
	d, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	defer d.Close()
	n := 0
	for {
		names, err := d.Readdirnames(4096)
		n += len(names)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Sockstat is the TCP line of /proc/net/sockstat. MemPages is in pages.
type Sockstat struct {
	SocketsUsed int    `json:"sockets_used"`
	TCPInuse    int    `json:"tcp_inuse"`
	TCPOrphan   int    `json:"tcp_orphan"`
	TCPTW       int    `json:"tcp_tw"`
	TCPAlloc    int    `json:"tcp_alloc"`
	TCPMemPages uint64 `json:"tcp_mem_pages"`
}

// ReadSockstat reads /proc/net/sockstat.
func ReadSockstat() (Sockstat, error) {
	f, err := os.Open("/proc/net/sockstat")
	if err != nil {
		return Sockstat{}, err
	}
	defer f.Close()
	return ParseSockstat(f)
}

// ParseSockstat parses the text of /proc/net/sockstat.
func ParseSockstat(r io.Reader) (Sockstat, error) {
	var s Sockstat
	sc := bufio.NewScanner(r)
	found := false
	for sc.Scan() {
		proto, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i+1 < len(f); i += 2 {
			n, _ := strconv.ParseUint(f[i+1], 10, 64)
			switch proto + "." + f[i] {
			case "sockets.used":
				s.SocketsUsed = int(n)
			case "TCP.inuse":
				s.TCPInuse, found = int(n), true
			case "TCP.orphan":
				s.TCPOrphan = int(n)
			case "TCP.tw":
				s.TCPTW = int(n)
			case "TCP.alloc":
				s.TCPAlloc = int(n)
			case "TCP.mem":
				s.TCPMemPages = n
			}
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if !found {
		return s, fmt.Errorf("procfs: sockstat has no TCP line")
	}
	return s, nil
}

// Meminfo is the part of /proc/meminfo the benchmarks use, in bytes.
type Meminfo struct {
	MemTotal     uint64 `json:"mem_total"`
	MemAvailable uint64 `json:"mem_available"`
	Slab         uint64 `json:"slab"`
	SReclaimable uint64 `json:"s_reclaimable"`
	SUnreclaim   uint64 `json:"s_unreclaim"`
}

// ReadMeminfo reads /proc/meminfo.
func ReadMeminfo() (Meminfo, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return Meminfo{}, err
	}
	defer f.Close()
	return ParseMeminfo(f)
}

// ParseMeminfo parses the text of /proc/meminfo.
func ParseMeminfo(r io.Reader) (Meminfo, error) {
	var m Meminfo
	kb := map[string]*uint64{"MemTotal": &m.MemTotal, "MemAvailable": &m.MemAvailable, "Slab": &m.Slab, "SReclaimable": &m.SReclaimable, "SUnreclaim": &m.SUnreclaim}
	err := scanFields(r, func(key, val string) {
		if p, ok := kb[key]; ok {
			*p = kB(val)
		}
	})
	if err != nil {
		return m, err
	}
	if m.MemTotal == 0 {
		return m, fmt.Errorf("procfs: meminfo has no MemTotal")
	}
	return m, nil
}

// SlabCache is one line of /proc/slabinfo.
type SlabCache struct {
	ActiveObjs uint64 `json:"active_objs"`
	NumObjs    uint64 `json:"num_objs"`
	ObjSize    uint64 `json:"obj_size"`
}

// Bytes is the memory held by the cache's allocated objects.
func (c SlabCache) Bytes() uint64 { return c.NumObjs * c.ObjSize }

// ReadSlabinfo reads /proc/slabinfo, keeping only caches for which keep
// returns true (all caches when keep is nil). The file is root-only on most
// systems; callers treat an error as "not available".
func ReadSlabinfo(keep func(name string) bool) (map[string]SlabCache, error) {
	f, err := os.Open("/proc/slabinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseSlabinfo(f, keep)
}

// ParseSlabinfo parses the text of /proc/slabinfo (version 2.x).
func ParseSlabinfo(r io.Reader, keep func(name string) bool) (map[string]SlabCache, error) {
	out := make(map[string]SlabCache)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "slabinfo") || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		if keep != nil && !keep(f[0]) {
			continue
		}
		var c SlabCache
		var err error
		if c.ActiveObjs, err = strconv.ParseUint(f[1], 10, 64); err != nil {
			return nil, fmt.Errorf("procfs: slabinfo %s: %w", f[0], err)
		}
		if c.NumObjs, err = strconv.ParseUint(f[2], 10, 64); err != nil {
			return nil, fmt.Errorf("procfs: slabinfo %s: %w", f[0], err)
		}
		if c.ObjSize, err = strconv.ParseUint(f[3], 10, 64); err != nil {
			return nil, fmt.Errorf("procfs: slabinfo %s: %w", f[0], err)
		}
		out[f[0]] = c
	}
	return out, sc.Err()
}

// SystemCPU is the machine-wide "cpu" line of /proc/stat, in UserHZ ticks
// summed over all CPUs.
type SystemCPU struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal uint64
}

// Task is time spent running tasks (user, nice, system), which is what
// per-process utime+stime add up to; interrupts are left out.
func (c SystemCPU) Task() uint64 { return c.User + c.Nice + c.System }

// ReadSystemCPU reads the first line of /proc/stat.
func ReadSystemCPU() (SystemCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return SystemCPU{}, err
	}
	return ParseSystemCPU(string(b))
}

// ParseSystemCPU parses the "cpu " line of the text of /proc/stat.
func ParseSystemCPU(stat string) (SystemCPU, error) {
	for _, line := range strings.Split(stat, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var v [8]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return SystemCPU{}, fmt.Errorf("procfs: /proc/stat cpu field %d: %w", i+1, err)
			}
			v[i] = n
		}
		return SystemCPU{User: v[0], Nice: v[1], System: v[2], Idle: v[3], IOWait: v[4], IRQ: v[5], SoftIRQ: v[6], Steal: v[7]}, nil
	}
	return SystemCPU{}, fmt.Errorf("procfs: /proc/stat has no cpu line")
}
