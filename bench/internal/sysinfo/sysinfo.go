package sysinfo

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Machine describes the host.
type Machine struct {
	NProc     int    `json:"nproc"`
	MemTotal  uint64 `json:"mem_total_bytes"`
	Kernel    string `json:"kernel"`
	CPUModel  string `json:"cpu_model"`
	PageSize  int    `json:"page_size"`
	GoVersion string `json:"go_version"` // the Go that built this tool
}

// ReadMachine gathers Machine; missing pieces are left empty.
func ReadMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), PageSize: os.Getpagesize(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var n uint64
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &n); err == nil {
				m.MemTotal = n << 10
				break
			}
		}
		f.Close()
	}
	return m
}

// ReportedSysctls are the kernel settings that bound connection counts and
// per-socket memory.
var ReportedSysctls = []string{
	"net.core.somaxconn",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
	"net.ipv4.tcp_mem",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.tcp_max_syn_backlog",
	"net.netfilter.nf_conntrack_max",
	"fs.file-max",
	"fs.nr_open",
}

// Sysctls reads the named settings from /proc/sys; unreadable ones are
// reported as "n/a".
func Sysctls(names []string) map[string]string {
	out := make(map[string]string, len(names))
	for _, n := range names {
		b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(n, ".", "/"))
		if err != nil {
			out[n] = "n/a"
			continue
		}
		out[n] = strings.Join(strings.Fields(string(b)), " ")
	}
	return out
}

// Rlimit is a soft/hard pair.
type Rlimit struct {
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// NofileLimit returns this process's RLIMIT_NOFILE.
func NofileLimit() (Rlimit, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return Rlimit{}, err
	}
	return Rlimit{Soft: r.Cur, Hard: r.Max}, nil
}

// RaiseNofile sets the soft RLIMIT_NOFILE to the hard limit and returns the
// result. Calling Setrlimit explicitly also makes children started with
// os/exec inherit the raised limit (Go otherwise restores the original soft
// limit for them).
func RaiseNofile() (Rlimit, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return Rlimit{}, err
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return Rlimit{}, err
	}
	return Rlimit{Soft: r.Cur, Hard: r.Max}, nil
}

// ProcNofile reads "Max open files" of another process from
// /proc/PID/limits, as text ("20000 / 20000").
func ProcNofile(pid int) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return "n/a"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) >= 2 {
				return f[0] + " / " + f[1]
			}
		}
	}
	return "n/a"
}

// GitCommit returns the short commit of the repository at dir with
// "-dirty" appended when the work tree has uncommitted changes (modified or
// untracked files, which a build would compile in; benchmark reports under
// bench/results are not counted), or a
// sentence saying why it is unknown. It only reads the repository: status
// runs with --no-optional-locks so it never takes the index lock from
// someone committing at the same time.
func GitCommit(dir string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (no commit yet or not a git repository)"
	}
	commit := strings.TrimSpace(string(out))
	st, err := exec.CommandContext(ctx, "git", "--no-optional-locks", "-C", dir, "status", "--porcelain",
		"--", ".", ":(exclude,top)bench/results").Output()
	if err != nil || len(strings.TrimSpace(string(st))) > 0 {
		commit += "-dirty"
	}
	return commit
}

// BinaryGoVersion returns the Go version and main module that built the
// binary at path, or "unknown".
func BinaryGoVersion(path string) string {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return bi.GoVersion + " (" + bi.Path + ")"
}

// ShellQuote joins args into one line a POSIX shell would split back into
// the same words.
func ShellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,/:@+%") == "" {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
