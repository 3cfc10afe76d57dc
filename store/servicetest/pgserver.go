package servicetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// PostgresServer is a PostgreSQL cluster of one test's own, which the test
// may stop and start again on the same port (outage tests): the shared
// server of PostgresURL must stay up for the other tests. It runs with
// fsync off, like the shared one (scripts/services.sh).
type PostgresServer struct {
	bin  string // directory holding initdb, pg_ctl
	dir  string // owned by the postgres user when run as root
	port int
}

// StartPostgres initialises a cluster in a temp dir, starts it on a free
// loopback port and removes it when t ends. Where the shared test
// PostgreSQL is not configured it skips t (fails it under CI), as
// PostgresURL does: the server binaries are installed with it.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	PostgresServerURL(t)
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Fatal("StartPostgres: no /usr/lib/postgresql/*/bin/pg_ctl")
	}
	sort.Strings(bins)
	// t.TempDir is private to this user: the postgres user must reach it.
	dir, err := os.MkdirTemp("", "sbtest-pg-")
	if err != nil {
		t.Fatal(err)
	}
	ps := &PostgresServer{bin: filepath.Dir(bins[len(bins)-1]), dir: dir}
	t.Cleanup(func() {
		ps.pgctl("stop", "-m", "immediate", "-w")
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres:", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	if out, err := ps.command("initdb", "-D", ps.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ps.Start(t)
	return ps
}

func (ps *PostgresServer) data() string { return filepath.Join(ps.dir, "data") }

// command runs a server binary as the postgres user when root
// (PostgreSQL refuses to run as root).
func (ps *PostgresServer) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(ps.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (ps *PostgresServer) pgctl(args ...string) ([]byte, error) {
	return ps.command("pg_ctl", append([]string{"-D", ps.data()}, args...)...).CombinedOutput()
}

// URL is the superuser URL of the server's default database.
func (ps *PostgresServer) URL() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(ps.port) + "/postgres?sslmode=disable"
}

// Start starts the server (again) and waits until it accepts connections.
func (ps *PostgresServer) Start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s "+
		"-c fsync=off -c full_page_writes=off -c synchronous_commit=off", ps.port, ps.dir)
	if out, err := ps.pgctl("-l", filepath.Join(ps.dir, "server.log"), "-w", "-t", "60", "start", "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(ps.dir, "server.log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop shuts the server down at once (immediate mode: every connection is
// cut, as in a crash), and waits until it has exited.
func (ps *PostgresServer) Stop(t testing.TB) {
	t.Helper()
	if out, err := ps.pgctl("stop", "-m", "immediate", "-w"); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// String is for logs.
func (ps *PostgresServer) String() string { return "PostgreSQL on 127.0.0.1:" + strconv.Itoa(ps.port) }
