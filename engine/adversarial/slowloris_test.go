package adversarial

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/room"
)

// helperEnv makes the test binary an attacker process (see runHelper): one
// process may hold 20,000 descriptors, so a test holding 10,000 sockets at
// both ends needs its clients elsewhere.
const helperEnv = "SWITCHBOARD_ADVERSARIAL_HELPER"

// runHelper is the attacker process's main; the parent reads its stdout.
func runHelper(role string) int {
	switch role {
	case "slowloris":
		n, _ := strconv.Atoi(os.Getenv("ADV_N"))
		res := slowloris(os.Getenv("ADV_ADDR"), n, strings.Split(os.Getenv("ADV_IPS"), ","),
			func(opened int) { fmt.Printf("opened %d\n", opened) })
		fmt.Printf("closed %d answered %d failed %d\n", res.closed, res.answered, res.failed)
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown helper role %q\n", role)
	return 2
}

// sourceIPs returns n loopback addresses from 127.0.0.first on.
func sourceIPs(first, n int) []string {
	ips := make([]string, n)
	for i := range ips {
		ips[i] = fmt.Sprintf("127.0.%d.%d", (first+i)/250, 2+(first+i)%250)
	}
	return ips
}

type slowlorisResult struct {
	closed, answered, failed int
}

// slowloris opens n sockets spread over ips, sends each the start of an
// upgrade request, then dribbles one more header byte to each every 200 ms
// and never finishes. It returns once the server has closed every socket:
// answered counts sockets that got any bytes back (the server must drop
// them silently), failed those that could not connect.
func slowloris(addr string, n int, ips []string, opened func(int)) slowlorisResult {
	var res slowlorisResult
	var conns []net.Conn
	for i := 0; i < n; i++ {
		d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ips[i%len(ips)])}}
		c, err := d.Dial("tcp", addr)
		if err == nil {
			_, err = c.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nX-Dribble: "))
		}
		if err != nil {
			res.failed++
			continue
		}
		conns = append(conns, c)
	}
	opened(len(conns))
	var answered, live atomic.Int64
	live.Store(int64(len(conns)))
	gone := make([]atomic.Bool, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Minute))
			var b [512]byte
			for {
				k, err := c.Read(b[:])
				if k > 0 {
					answered.Add(1)
				}
				if err != nil {
					gone[i].Store(true)
					live.Add(-1)
					return
				}
			}
		}()
	}
	tick := time.NewTicker(200 * time.Millisecond)
	for live.Load() > 0 {
		<-tick.C
		for i, c := range conns {
			if !gone[i].Load() {
				c.Write([]byte{'a'}) // a socket the server closed just errors
			}
		}
	}
	tick.Stop()
	wg.Wait()
	res.closed, res.answered = len(conns), int(answered.Load())
	return res
}

// TestSlowloris: sockets that dribble an upgrade request one byte at a
// time are dropped at the handshake deadline (counted from accept, so
// dribbling does not extend it), without an answer, while the bystander is
// served. Short form: 200 sockets in process; full form: 10,000 from a
// helper process over 25 source addresses (400 each, under the per-IP
// limits), all held at once under the default 10 s deadline.
func TestSlowloris(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		n := scale(200, 10_000)
		tg := startTarget(t, backend, func(e *engine.Config, _ *room.Config) {
			if !full {
				e.HandshakeTimeout = 2 * time.Second
			}
		})
		if full && backend == "netpoll" {
			// netpoll keeps per-socket state after its sockets close:
			// measured here, +11.7 MiB of heap after a first round of
			// 10,000 (epoll: +0.3 MiB) and +1.5 to 5.8 MiB after a second. A first
			// round runs unmeasured so the bound applies to a repeat; see
			// docs/security.md (known issues).
			slowlorisInHelper(t, tg, n, func(int) {})
			tg.settle(t, 0)
		}
		tg.attack(t, func(t *testing.T) {
			timeoutsBefore := tg.e.Stats().HandshakeTimeouts
			var res slowlorisResult
			peak := int64(0)
			watch := func(opened int) {
				waitFor(t, "slowloris sockets accepted", func() bool {
					st := tg.e.Stats()
					peak = max(peak, st.Handshaking)
					return st.Accepted >= uint64(opened)+2
				})
			}
			if full {
				res = slowlorisInHelper(t, tg, n, watch)
			} else {
				res = slowloris(tg.addr, n, sourceIPs(0, 4), watch)
			}
			st := tg.e.Stats()
			timeouts := st.HandshakeTimeouts - timeoutsBefore
			t.Logf("%d slowloris sockets, %d held at once at the peak seen, %d handshake timeouts",
				n, peak, timeouts)
			if res.failed > 0 || res.closed != n {
				t.Fatalf("opened %d of %d sockets (%d failed)", res.closed, n, res.failed)
			}
			if res.answered != 0 {
				t.Fatalf("%d slowloris sockets got an answer; want them dropped silently", res.answered)
			}
			if timeouts != uint64(n) {
				t.Fatalf("%d handshake timeouts, want %d", timeouts, n)
			}
		})
	})
}

// slowlorisInHelper runs slowloris in a child process and calls opened
// once the child holds its sockets.
func slowlorisInHelper(t *testing.T, tg *target, n int, opened func(int)) slowlorisResult {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=slowloris", "ADV_ADDR="+tg.addr,
		"ADV_N="+strconv.Itoa(n), "ADV_IPS="+strings.Join(sourceIPs(0, 25), ","))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var res slowlorisResult
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		var k int
		if _, err := fmt.Sscanf(lines.Text(), "opened %d", &k); err == nil {
			opened(k)
			continue
		}
		if _, err := fmt.Sscanf(lines.Text(), "closed %d answered %d failed %d", &res.closed, &res.answered, &res.failed); err == nil {
			return res
		}
	}
	t.Fatalf("slowloris helper ended without a result: %v", cmd.Wait())
	return res
}
