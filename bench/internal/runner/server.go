package runner

import (
	"context"
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
	log.Info("server started", "pid", s.Child.Pid(), "addr", addr, "admin", adminAddr, "log", out+".server.log")
	err = target.WaitHealthy(ctx, "http://"+addr+"/healthz", wait, func() error {
		if s.Child.Exited() {
			return fmt.Errorf("%v (see %s.server.log)", s.Child.Err(), out)
		}
		return nil
	})
	return s, err
}
