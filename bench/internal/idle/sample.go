package idle

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/procfs"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// GoStats is the server's GET /debug/stats answer (the server contract).
type GoStats = target.Stats

// Sample is everything measured at one step. Memory is in bytes.
type Sample struct {
	Target      int       `json:"target"` // connections asked for
	Conns       int64     `json:"conns"`  // as the server reported them
	Time        time.Time `json:"time"`
	RampSeconds float64   `json:"ramp_seconds"`
	DialErrors  int       `json:"dial_errors"` // failed and retried dials during the ramp

	Proc procfs.Status `json:"proc"`
	FDs  int           `json:"fds"`
	Go   GoStats       `json:"go"`

	CPUSeconds       float64 `json:"cpu_seconds"`        // server utime+stime over the window
	CPUWindowSeconds float64 `json:"cpu_window_seconds"` // the window
	CPUCores         float64 `json:"cpu_cores"`          // CPUSeconds / window: 1 = one core busy
	// OtherCPUCores is what the rest of the machine (the idle workers
	// included, which use next to nothing) used over the same window,
	// plus steal: other processes whose memory and sockets blur the
	// machine-wide kernel numbers.
	OtherCPUCores float64 `json:"other_cpu_cores"`

	Sockstat procfs.Sockstat             `json:"sockstat"`
	Meminfo  procfs.Meminfo              `json:"meminfo"`
	Slab     map[string]procfs.SlabCache `json:"slab,omitempty"` // nil when /proc/slabinfo is unreadable

	// KernelBytes is Slab (meminfo) plus TCP buffer pages (sockstat), for
	// the whole machine: on loopback it holds both ends of every
	// connection.
	KernelBytes uint64 `json:"kernel_bytes"`
	// SocketSlabBytes sums the slab caches a socket fd occupies (see
	// socketCaches); 0 when slabinfo is unreadable.
	SocketSlabBytes uint64 `json:"socket_slab_bytes"`
}

// socketCaches are the slab caches one TCP socket fd lives in: the socket
// itself, its inode, the dentry and struct file of the fd, and the epoll
// item when the process watches it.
var socketCaches = []string{"TCP", "TCPv6", "sock_inode_cache", "dentry", "filp", "eventpoll_epi", "eventpoll_pwq"}

// keepSlab selects what Sample.Slab records: the socket caches and the
// generic kmalloc caches (socket-side allocations land there too).
func keepSlab(name string) bool {
	for _, c := range socketCaches {
		if name == c {
			return true
		}
	}
	return name == "request_sock_TCP" || name == "skbuff_head_cache" || name == "inode_cache" ||
		strings.HasPrefix(name, "kmalloc-")
}

// readProcess fills the per-process and kernel parts of s. slabOK reports
// whether /proc/slabinfo could be read.
func readProcess(pid, pageSize int, s *Sample) (slabOK bool, err error) {
	if s.Proc, err = procfs.ReadStatus(pid); err != nil {
		return false, fmt.Errorf("read /proc/%d/status: %w", pid, err)
	}
	if s.FDs, err = procfs.CountFDs(pid); err != nil {
		return false, fmt.Errorf("count /proc/%d/fd: %w", pid, err)
	}
	if s.Sockstat, err = procfs.ReadSockstat(); err != nil {
		return false, fmt.Errorf("read sockstat: %w", err)
	}
	if s.Meminfo, err = procfs.ReadMeminfo(); err != nil {
		return false, fmt.Errorf("read meminfo: %w", err)
	}
	s.KernelBytes = s.Meminfo.Slab + s.Sockstat.TCPMemPages*uint64(pageSize)
	slab, err := procfs.ReadSlabinfo(keepSlab)
	if err != nil {
		// Unreadable slabinfo (not root, or a hardened kernel) is
		// expected; the report says the per-cache numbers are missing.
		return false, nil
	}
	s.Slab = slab
	for _, name := range socketCaches {
		s.SocketSlabBytes += slab[name].Bytes()
	}
	return true, nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error { return target.Sleep(ctx, d) }

// pageSize is the kernel page size, the unit of sockstat's "mem".
var pageSize = os.Getpagesize()
