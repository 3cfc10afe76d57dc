package engine

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dialFrom opens a TCP connection to the engine from a chosen loopback
// source address (any of 127.0.0.0/8 works on Linux), so one test can play
// several client addresses.
func dialFrom(t testing.TB, e *Engine, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", e.Addr().String())
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// upgradeStatus sends an upgrade request for /echo on c and returns the
// answer; on 101 the connection stays usable.
func upgradeStatus(t testing.TB, c net.Conn) (*http.Response, *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(c, upgradeRequest("/echo")); err != nil {
		t.Fatalf("write request: %v", err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp, r
}

func expectStatus(t testing.TB, c net.Conn, status int, retryAfter string) {
	t.Helper()
	resp, _ := upgradeStatus(t, c)
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
	if retryAfter != "" && resp.Header.Get("Retry-After") != retryAfter {
		t.Fatalf("Retry-After %q, want %q", resp.Header.Get("Retry-After"), retryAfter)
	}
}

func TestMaxConnsPerIPAnswers429(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, func(c *Config) { c.MaxConnsPerIP = 2; c.RetryAfter = 3 * time.Second })
		// Sockets count from accept: two that never send a byte (slowloris)
		// fill the address's quota as well as two upgraded ones would.
		silent := dialFrom(t, e, "127.0.0.1")
		open := dialFrom(t, e, "127.0.0.1")
		expectStatus(t, open, 101, "")
		waitFor(t, "2 sockets counted", func() bool { return e.Stats().Accepted == 2 })
		expectStatus(t, dialFrom(t, e, "127.0.0.1"), 429, "3")
		// Another address is not affected.
		expectStatus(t, dialFrom(t, e, "127.0.0.2"), 101, "")
		// A socket that goes frees its place.
		silent.Close()
		waitFor(t, "silent socket released", func() bool { return e.Stats().Rejected429 == 1 && e.Stats().Handshaking == 0 })
		expectStatus(t, dialFrom(t, e, "127.0.0.1"), 101, "")
		if e.Stats().Rejected429 != 1 || e.Stats().Rejected503 != 0 {
			t.Fatalf("stats %+v, want exactly one 429", e.Stats())
		}
	})
}

func TestHandshakeRatePerIPAnswers429(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, func(c *Config) {
			// A rate this low never refills within the test: no timing.
			c.HandshakeRatePerIP, c.HandshakeBurstPerIP = 0.01, 3
			c.IPLimitExempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}
		})
		for i := 0; i < 3; i++ {
			c := dialFrom(t, e, "127.0.0.1")
			expectStatus(t, c, 101, "")
			c.Close() // closing does not give the handshake back
		}
		// One token every 100 s: the answer says when to come back.
		expectStatus(t, dialFrom(t, e, "127.0.0.1"), 429, "100")
		expectStatus(t, dialFrom(t, e, "127.0.0.2"), 101, "")
		for i := 0; i < 5; i++ {
			expectStatus(t, dialFrom(t, e, "127.0.0.3"), 101, "") // exempt
		}
	})
}

func TestPerIPTableForgetsIdleAddresses(t *testing.T) {
	e := startEngine(t, "epoll", func(c *Config) {
		c.MaxConnsPerIP = 10
		c.HandshakeRatePerIP, c.HandshakeBurstPerIP = 1000, 1
	})
	for _, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		c := dialFrom(t, e, ip)
		expectStatus(t, c, 101, "")
		c.Close()
	}
	waitFor(t, "all closed", func() bool { return e.Stats().Conns == 0 && e.Stats().Handshaking == 0 })
	// Each address spent its only token: its entry stays until the bucket
	// is full again, so closing and reopening cannot reset the rate.
	if n := e.Stats().TrackedIPs; n != 3 {
		t.Fatalf("TrackedIPs = %d after closing, want 3 (buckets not yet full)", n)
	}
	e.sweepIPs(e.now() + e.ticks(time.Second))
	if n := e.Stats().TrackedIPs; n != 0 {
		t.Fatalf("TrackedIPs = %d after a sweep with full buckets, want 0", n)
	}
}

func TestIPKeyGroupsIPv6By64(t *testing.T) {
	a := ipKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1"))
	b := ipKey(netip.MustParseAddr("2001:db8:1:2:bbbb::2"))
	c := ipKey(netip.MustParseAddr("2001:db8:1:3::1"))
	if a != b || a == c {
		t.Fatalf("keys %v %v %v: want one per /64", a, b, c)
	}
	if v4 := netip.MustParseAddr("192.0.2.7"); ipKey(v4) != v4 {
		t.Fatalf("IPv4 key %v", ipKey(v4))
	}
}

// runtimeInUse reads the measure the engine's memory budget uses.
func runtimeInUse() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

func TestMaxMemoryRefusesNewConnectionsAndKeepsOpenOnes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		runtime.GC()
		debug.FreeOSMemory()
		// Admission stops at 90% of the budget: put that 48 MiB above
		// what the process holds now, then cross it with a ballast.
		limit := runtimeInUse() + 48<<20
		e := startEngine(t, backend, func(c *Config) {
			c.MaxMemory = limit / 90 * 100
			c.RetryAfter = 2 * time.Second
			c.TickInterval = 10 * time.Millisecond
		})
		g := gorillaDial(t, e, nil)
		func() {
			ballast := make([]byte, 96<<20)
			for i := range ballast {
				ballast[i] = 1
			}
			defer runtime.KeepAlive(ballast)
			waitFor(t, "memory reading over the limit", func() bool { return e.Stats().MemoryInUse >= limit })
			resp, _ := upgradeStatus(t, rawDial(t, e))
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" {
				t.Fatalf("over budget: %d Retry-After %q, want 503 and 2", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if st := e.Stats(); st.RejectedMemory != 1 || st.Rejected503 != 1 {
				t.Fatalf("stats %+v, want one memory refusal", st)
			}
			// The connection already open keeps working.
			if err := g.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
				t.Fatal(err)
			}
			if _, p, err := g.ReadMessage(); err != nil || string(p) != "still here" {
				t.Fatalf("open connection over budget: %q %v", p, err)
			}
		}()
		runtime.GC()
		debug.FreeOSMemory()
		waitFor(t, "memory reading back under the limit", func() bool { return e.Stats().MemoryInUse < limit })
		waitFor(t, "admission on again", func() bool { return !e.adm.memFull.Load() })
		resp, _ := upgradeStatus(t, rawDial(t, e))
		if resp.StatusCode != 101 {
			t.Fatalf("under budget again: status %d, want 101", resp.StatusCode)
		}
	})
}
