package main

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

// buildBinary compiles the real binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "switchboard")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServe runs `switchboard serve` on a free port and returns the
// process and the address it logged.
func startServe(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	s := runServe(t, bin, nil, args...)
	return s.cmd, s.addr
}

// served is a running `switchboard serve`.
type served struct {
	cmd   *exec.Cmd
	addr  string      // public listener
	admin string      // admin listener
	logs  chan string // every later stderr line; closed when the process exits
}

// runServe starts serve on free ports (public and admin) with env added
// to this process's environment, and waits until both listeners are up.
func runServe(t *testing.T, bin string, env []string, args ...string) *served {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--log-format", "text"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addrRE := regexp.MustCompile(`msg=listening addr=(\S+)`)
	adminRE := regexp.MustCompile(`msg="admin listening" addr=(\S+)`)
	s := &served{cmd: cmd, logs: make(chan string, 10000)}
	lines := bufio.NewScanner(stderr)
	for s.admin == "" && lines.Scan() {
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			s.addr = m[1]
		}
		if m := adminRE.FindStringSubmatch(lines.Text()); m != nil {
			s.admin = m[1]
		}
	}
	if s.addr == "" || s.admin == "" {
		t.Fatalf("server exited before listening: %v", lines.Err())
	}
	go func() { // keep draining so the server never blocks on stderr
		defer close(s.logs)
		for lines.Scan() {
			select {
			case s.logs <- lines.Text():
			default:
			}
		}
	}()
	return s
}

func TestServeEchoAndGracefulShutdown(t *testing.T) {
	bin := buildBinary(t)
	for _, backend := range []string{"epoll", "netpoll"} {
		t.Run(backend, func(t *testing.T) {
			cmd, addr := startServe(t, bin, "--backend", backend, "--echo", "--auth", "none")
			resp, err := http.Get("http://" + addr + "/healthz")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("healthz: %v %v", resp, err)
			}
			resp.Body.Close()
			c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/echo", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			c.WriteMessage(websocket.TextMessage, []byte("ping"))
			if _, p, err := c.ReadMessage(); err != nil || string(p) != "ping" {
				t.Fatalf("echo: %q %v", p, err)
			}

			cmd.Process.Signal(syscall.SIGTERM)
			_, _, err = c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
				t.Fatalf("client read during shutdown = %v, want close 1001", err)
			}
			waitExit0(t, cmd)
			if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				t.Fatal("still accepting after exit")
			}
		})
	}
}

// waitExit0 waits for a signalled serve to exit with status 0.
func waitExit0(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v, want status 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
}

func TestServeRejectsBadFlags(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--auth", "none", "--backend", "kqueue"}, `--backend (flag --backend): must be one of epoll, netpoll, got "kqueue"`},
		{[]string{"serve", "--auth", "jwt", "--admin-addr", ""}, "SWITCHBOARD_JWT_SECRET"},
		{[]string{"serve", "--auth", "ldap"}, "--auth (flag --auth)"},
		{[]string{"serve", "--auth", "none", "--store", "cassandra", "--admin-addr", ""}, "--store (flag --store)"},
		{[]string{"serve", "--auth", "none", "--store", "postgres", "--admin-addr", ""}, "SWITCHBOARD_POSTGRES_URL"},
		{[]string{"serve", "--auth", "none", "--store", "postgres", "--admin-addr", "", "--postgres-url", "postgres://x/y",
			"--postgres-statement-timeout", "0s"}, "--postgres-statement-timeout"},
		{[]string{"serve", "--auth", "none", "--store", "postgres", "--admin-addr", "", "--postgres-url", "postgres://x/y",
			"--postgres-reconnect-backoff", "0s"}, "--postgres-reconnect-backoff"},
		{[]string{"serve", "--auth", "none", "--store", "postgres", "--admin-addr", "", "--postgres-url", "postgres://x/y",
			"--postgres-committers", "20", "--postgres-max-conns", "8"}, "Committers 20"},
		{[]string{"serve", "--auth", "none", "--workers", "-3"}, "--workers (flag --workers): must not be negative"},
		{[]string{"serve", "--auth", "none", "--max-frame-bytes", "2048", "--max-message-bytes", "1024"}, "MaxFrameBytes"},
		{[]string{"serve", "--auth", "none", "--admin-addr", "", "--redis-url", "redis://127.0.0.1:1/0"}, "--redis-url with --store memory"},
		{[]string{"serve", "--log-format", "xml"}, "--log-format"},
		{[]string{"serve", "--auth", "none", "--max-memory", "lots"}, "max-memory"},
		{[]string{"serve", "--auth", "none", "--ip-limit-exempt", "10.0.0.0/33"}, "ip-limit-exempt"},
		{[]string{"serve", "--auth", "none", "--max-conns-per-ip", "-1"}, "--max-conns-per-ip"},
		{[]string{"serve", "extra"}, "unexpected arguments"},
		{[]string{"frobnicate"}, "unknown command"},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append(os.Environ(), "SWITCHBOARD_JWT_SECRET=", "SWITCHBOARD_REDIS_URL=", "SWITCHBOARD_POSTGRES_URL=")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Errorf("%v: exit %v, want non-zero", tc.args, err)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: output %q does not name %q", tc.args, out, tc.want)
		}
	}
}

func TestVersionPrintsBuildInfo(t *testing.T) {
	var b strings.Builder
	if err := version(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"switchboard ", "\nmodule:   github.com/switchboard-chat/switchboard\n",
		"\nrevision: ", "\ntime:     ", "\nmodified: ", "\ngo:       go1.", "\nplatform: "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("version output %q lacks %q", b.String(), want)
		}
	}
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}
