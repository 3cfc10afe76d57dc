package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/procfs"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// Window is CPU use over a measured window: the server's, the workers'
// together, and what the rest of the machine used (other processes
// competing for the cores, and the hypervisor's steal).
type Window struct {
	Seconds       float64
	ServerCPU     float64 // seconds, utime+stime
	ClientCPU     float64 // seconds, all workers
	OtherCPUCores float64
	StealCores    float64
}

// MeasureWindow samples CPU of pids (the server first, then the workers)
// and of the machine now and at end, and returns the difference.
func MeasureWindow(ctx context.Context, pids []int, end time.Time) (Window, error) {
	var w Window
	t0 := time.Now()
	sys0, err := procfs.ReadSystemCPU()
	if err != nil {
		return w, err
	}
	ticks0, err := readTicks(pids)
	if err != nil {
		return w, err
	}
	if err := target.Sleep(ctx, time.Until(end)); err != nil {
		return w, err
	}
	ticks1, err := readTicks(pids)
	if err != nil {
		return w, err
	}
	sys1, err := procfs.ReadSystemCPU()
	if err != nil {
		return w, err
	}
	w.Seconds = time.Since(t0).Seconds()
	w.ServerCPU = float64(ticks1[0]-ticks0[0]) / procfs.UserHZ
	for i := 1; i < len(pids); i++ {
		w.ClientCPU += float64(ticks1[i]-ticks0[i]) / procfs.UserHZ
	}
	if w.Seconds > 0 {
		task := float64(sys1.Task()-sys0.Task()) / procfs.UserHZ
		w.OtherCPUCores = max(0, task-w.ServerCPU-w.ClientCPU) / w.Seconds
		w.StealCores = float64(sys1.Steal-sys0.Steal) / procfs.UserHZ / w.Seconds
	}
	return w, nil
}

// readTicks reads utime+stime of each pid.
func readTicks(pids []int) ([]uint64, error) {
	out := make([]uint64, len(pids))
	for i, pid := range pids {
		t, err := procfs.ReadCPUTicks(pid)
		if err != nil {
			return nil, fmt.Errorf("cpu of pid %d: %w", pid, err)
		}
		out[i] = t
	}
	return out, nil
}

// Measurement is what a Session measured over a repetition's window: the
// CPU of the server, the workers and the rest of the machine, and the
// server's memory at the window's end, with every connection still open
// (zero when /proc/PID/status could not be read).
type Measurement struct {
	Window
	Server procfs.Status
}

// Usage is the part of a repetition's report that says what the server
// and the workers used over the measured window.
type Usage struct {
	ServerCPUCores   float64 `json:"server_cpu_cores"`   // 1 = one core busy
	ClientCPUSeconds float64 `json:"client_cpu_seconds"` // all workers, same window
	WindowSeconds    float64 `json:"window_seconds"`     // measured by the controller
	// OtherCPUCores is task CPU (user+nice+system, /proc/stat) that neither
	// the server nor the workers used during the window: other processes
	// competing for the cores. StealCores is time the hypervisor took.
	// Either well above zero makes the repetition noisy.
	OtherCPUCores float64 `json:"other_cpu_cores"`
	StealCores    float64 `json:"steal_cores"`
	ServerRSS     uint64  `json:"server_rss_bytes"` // VmRSS at the end, connections still open
}

// Usage is m as a repetition reports it.
func (m Measurement) Usage() Usage {
	u := Usage{ClientCPUSeconds: m.ClientCPU, WindowSeconds: m.Seconds, ServerRSS: m.Server.VmRSS}
	if m.Seconds > 0 {
		u.ServerCPUCores = m.ServerCPU / m.Seconds
		u.OtherCPUCores, u.StealCores = m.OtherCPUCores, m.StealCores
	}
	return u
}

// Other is the CPU, in cores, that something other than the server and
// the workers took during the window, steal included.
func (u Usage) Other() float64 { return u.OtherCPUCores + u.StealCores }

// Noise is the part of a summary that says how quiet the machine was over
// every repetition, failed ones included.
type Noise struct {
	// OtherCPUMax is the most CPU anything else on the machine used in
	// any repetition (cores), and NoisyReps how many repetitions were over
	// summary.NoiseCores of it.
	OtherCPUMax float64 `json:"other_cpu_cores_max"`
	NoisyReps   int     `json:"noisy_reps"`
}

// Add counts one repetition's usage.
func (n *Noise) Add(u Usage) {
	n.OtherCPUMax = max(n.OtherCPUMax, u.Other())
	if u.Other() > summary.NoiseCores {
		n.NoisyReps++
	}
}

// Note is the sentence a conclusion adds about a noisy run of reps
// repetitions, ending in end; empty when no repetition was noisy.
func (n Noise) Note(reps int, end string) string {
	if n.NoisyReps == 0 {
		return ""
	}
	return fmt.Sprintf("NOISY: other processes used up to %.2f cores during %d of %d repetitions", n.OtherCPUMax, n.NoisyReps, reps) + end
}
