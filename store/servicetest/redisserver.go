package servicetest

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// RedisServer is a redis-server of one test's own, which the test may kill
// and start again on the same port (fault tests). It runs without
// persistence, so a restart starts empty, as after a crash.
type RedisServer struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

// StartRedis starts a redis-server on a free loopback port and stops it when
// t ends. Where the shared test Redis is not configured it skips t (fails
// it under CI), as RedisURL does: redis-server is installed with it.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	RedisURL(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	rs := &RedisServer{port: port, dir: t.TempDir()}
	rs.Start(t)
	t.Cleanup(rs.Kill)
	return rs
}

// URL is the server's redis:// URL.
func (rs *RedisServer) URL() string { return "redis://" + rs.Addr() + "/0" }

// Addr is the server's host:port.
func (rs *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(rs.port) }

// Start starts the server (again) and waits until it accepts connections.
func (rs *RedisServer) Start(t testing.TB) {
	t.Helper()
	rs.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(rs.port),
		"--save", "", "--appendonly", "no", "--dir", rs.dir)
	if err := rs.cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", rs.Addr()); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("redis-server did not listen on %s", rs.Addr())
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (rs *RedisServer) Kill() {
	if rs.cmd != nil && rs.cmd.Process != nil {
		rs.cmd.Process.Kill()
		rs.cmd.Wait()
		rs.cmd = nil
	}
}

// String is for logs.
func (rs *RedisServer) String() string { return fmt.Sprintf("redis-server on %s", rs.Addr()) }
