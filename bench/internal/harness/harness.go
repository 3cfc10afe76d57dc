// Package harness is the part of a load scenario's controller that every
// scenario shares: signal handling, preparing to start the server, the
// repetition loop and the end of a run once a result exists.
package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/proc"
	"github.com/switchboard-chat/switchboard/bench/internal/procfs"
	"github.com/switchboard-chat/switchboard/bench/internal/sysinfo"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// Start returns a context cancelled by SIGINT or SIGTERM, its stop
// function, and the scenario's logger tagged with the server name.
func Start(name string) (context.Context, context.CancelFunc, *slog.Logger) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("server", name)
	return ctx, stop, log
}

// Setup is what Prepare found out before any server starts.
type Setup struct {
	Nofile    sysinfo.Rlimit // swload's RLIMIT_NOFILE after raising it
	ServerBin string         // absolute path of the server binary
}

// Prepare raises RLIMIT_NOFILE, makes serverBin absolute and creates the
// directory of the output path out.
func Prepare(serverBin, out string) (Setup, error) {
	var s Setup
	var err error
	if s.Nofile, err = sysinfo.RaiseNofile(); err != nil {
		return s, fmt.Errorf("raise RLIMIT_NOFILE: %w", err)
	}
	if s.ServerBin, err = filepath.Abs(serverBin); err != nil {
		return s, err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return s, err
	}
	return s, nil
}

// ServerLog creates <out>.server.log, where the server's output goes.
func ServerLog(out string) (*os.File, error) {
	return os.Create(out + ".server.log")
}

// Now is the current time as the reports show it (UTC, RFC 3339).
func Now() string { return time.Now().UTC().Format(time.RFC3339) }

// SourceAddrs lists the source addresses of n workers, counting up from
// base.
func SourceAddrs(base netip.Addr, n int) []string {
	var addrs []string
	src := base
	for range n {
		addrs = append(addrs, src.String())
		src = src.Next()
	}
	return addrs
}

// Repeat runs rep for each of reps repetitions, marking each in logFile.
// rep returns the repetition's error; measured, called for each one without
// an error, logs what it measured. Repeat stops with ctx's error as soon as
// ctx is done; otherwise it returns the failed repetitions in words, empty
// when there were none.
func Repeat(ctx context.Context, reps int, logFile io.Writer, log *slog.Logger, rep func(i int) error, measured func(i int)) (string, error) {
	var failures []string
	for i := range reps {
		fmt.Fprintf(logFile, "=== repetition %d of %d ===\n", i+1, reps)
		err := rep(i)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if err != nil {
			failures = append(failures, fmt.Sprintf("repetition %d: %v", i+1, err))
			log.Error("repetition failed", "rep", i+1, "err", err)
		} else {
			measured(i)
		}
	}
	return strings.Join(failures, "; "), nil
}

// Conclude ends a run of repetitions that produced a result whose Failure
// field is failure, runErr being what measuring returned: unless ctx was
// interrupted, it records runErr as the failure if none is set yet, writes
// the reports (summarizing first) and logs where they went with the
// attributes logAttrs gives. It returns an error when the run failed.
func Conclude(ctx context.Context, log *slog.Logger, out string, failure *string, runErr error, write func() error, logAttrs func() []any) error {
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; everything stopped, no report written: %w", runErr)
	}
	if runErr != nil && *failure == "" {
		*failure = runErr.Error()
	}
	if err := write(); err != nil {
		return err
	}
	log.Info("reports written", append([]any{"json", out + ".json", "md", out + ".md"}, logAttrs()...)...)
	if *failure != "" {
		return errors.New(*failure)
	}
	return nil
}

// Server is one server under test, started by StartServer.
type Server struct {
	Child     *proc.Child
	Addr      string // public listener, host:port
	AdminAddr string // admin listener, host:port
	Args      []string
}

// StartServer picks free loopback ports, starts bin with serverArgs plus
// --addr and --admin-addr (its output going to logFile), and waits up to
// wait for /healthz. The returned Server is non-nil whenever a process was
// started, even with an error, so the caller's stop path can stop it.
func StartServer(ctx context.Context, log *slog.Logger, name, bin, serverArgs string, logFile io.Writer,
	out string, wait time.Duration) (*Server, error) {
	addr, adminAddr, err := target.Addrs()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: addr, AdminAddr: adminAddr,
		Args: append(strings.Fields(serverArgs), "--addr", addr, "--admin-addr", adminAddr)}
	cmd := exec.Command(bin, s.Args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if s.Child, err = proc.Start(name, cmd); err != nil {
		return nil, err
	}
	log.Info("server started", "pid", s.Child.Pid(), "addr", addr, "admin", adminAddr)
	err = target.WaitHealthy(ctx, "http://"+addr+"/healthz", wait, func() error {
		if s.Child.Exited() {
			return fmt.Errorf("%v (see %s.server.log)", s.Child.Err(), out)
		}
		return nil
	})
	return s, err
}

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
