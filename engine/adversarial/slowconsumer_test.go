package adversarial

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/protocol"
	"github.com/switchboard-chat/switchboard/room"
)

// member is one room member read by its own goroutine; a slow one can be
// told to stop reading.
type member struct {
	wc     *wsConn
	user   string
	slow   bool
	resume chan struct{} // closed to let a paused reader go on

	mu     sync.Mutex
	paused bool
	seqs   []uint64
	lat    []time.Duration
	closed uint16 // the close code that ended it, 0 while open
}

// parseMessage reads seq and the publisher's timestamp from a message
// frame without decoding the rest: 4,500 readers decoding every padded
// body would take CPU the server needs. The server writes its fields in
// a fixed order (protocol.AppendMessageFrame).
func parseMessage(p []byte) (seq uint64, sent int64, ok bool) {
	if !bytes.HasPrefix(p, []byte(`{"type":"message"`)) {
		return 0, 0, false
	}
	num := func(key string) (int64, bool) {
		i := bytes.Index(p, []byte(key))
		if i < 0 {
			return 0, false
		}
		rest := p[i+len(key):]
		j := bytes.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		n, err := strconv.ParseInt(string(rest[:j]), 10, 64)
		return n, err == nil
	}
	s, ok1 := num(`"seq":`)
	t, ok2 := num(`"body":{"t":`)
	return uint64(s), t, ok1 && ok2
}

func (m *member) read(done *sync.WaitGroup) {
	defer done.Done()
	for {
		m.mu.Lock()
		paused := m.paused
		m.mu.Unlock()
		if paused {
			<-m.resume
		}
		h, p, err := m.wc.readFrame()
		if err != nil {
			return
		}
		now := time.Now()
		if h.OpCode == ws.OpClose {
			m.mu.Lock()
			m.closed = uint16(closeCode(p))
			m.mu.Unlock()
			return
		}
		seq, sent, ok := parseMessage(p)
		if h.OpCode != ws.OpText || !ok {
			continue
		}
		m.mu.Lock()
		m.seqs = append(m.seqs, seq)
		m.lat = append(m.lat, now.Sub(time.Unix(0, sent)))
		m.mu.Unlock()
	}
}

// slowLink makes a client socket look like one across a real network:
// a 64 KiB receive buffer, and an MSS of 1,460 instead of loopback's
// 65,483 (the kernel sizes the server's send buffer from it), so a stalled
// client holds tens of kilobytes in the kernel, not megabytes, before the
// server's own queue starts.
func slowLink(_, _ string, rc syscall.RawConn) error {
	var err error
	rc.Control(func(fd uintptr) {
		if err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10); err == nil {
			err = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1460)
		}
	})
	return err
}

// TestSlowConsumersInABigRoom: a tenth of a room's members stop reading.
// They are closed with 4001 once their queue passes the budget; everyone
// else receives every message in order; a closed one that comes back and
// joins with since gets exactly what it missed. The publish-to-delivery
// latency of the others is measured with and without the stalled members
// (logged, and written to a report in the full form; not asserted).
// Short form: 50 members; full form: 5,000.
func TestSlowConsumersInABigRoom(t *testing.T) {
	members := scale(50, 5000)
	// Publishing at a rate the 2-core machine sustains for all readers.
	rate := scale(50, 5) // publishes per second
	baseline := scale(50, 50)
	tg := startTarget(t, "epoll", func(e *engine.Config, c *room.Config) {
		e.OutboundBudget = 32 << 10
		// A stalled member answers no ping either: with the default 30 s
		// interval the dead-peer check closes some of them (no 4001)
		// before their queue passes the budget in the full form's minutes.
		// This test is about the budget, so keepalive stays out of it.
		e.PingInterval = time.Hour
		// The 4001 close frame waits in the server's send buffer behind
		// what the stalled member never read; with the default 3 s close
		// timeout the socket is gone (and the frame with it) long before
		// the full form's members resume reading minutes later.
		e.CloseTimeout = time.Hour
		c.RatePerSecond, c.RateBurst, c.UserRatePerSecond, c.UserRateBurst = 1e6, 1e6, 1e6, 1e6
	})
	body := strings.Repeat("x", scale(2<<10, 8<<10))
	pub := tg.open(t, "127.0.0.2", "publisher")
	pub.c.SetDeadline(time.Time{})
	pub.send(`{"type":"create","room":"big"}`)
	pub.expect("created")
	pub.send(`{"type":"join","room":"big"}`)
	pub.expect("joined")
	go func() { // the publisher reads nothing it needs; keep its socket drained
		for {
			if _, _, err := pub.readFrame(); err != nil {
				return
			}
		}
	}()

	ips := sourceIPs(40, 20)
	all := make([]*member, members)
	var readers sync.WaitGroup
	start := time.Now()
	for i := range all {
		m := &member{user: fmt.Sprintf("m%d", i), slow: i%10 == 0, resume: make(chan struct{})}
		var control func(string, string, syscall.RawConn) error
		if m.slow {
			control = slowLink
		}
		m.wc = tg.upgrade(t, tg.dial(t, ips[i%len(ips)], control), m.user)
		m.wc.c.SetDeadline(time.Time{}) // the full form runs for minutes
		m.wc.send(`{"type":"join","room":"big"}`)
		m.wc.expect("joined")
		all[i] = m
	}
	for _, m := range all {
		readers.Add(1)
		go m.read(&readers)
	}
	t.Logf("%d members joined in %v", members, time.Since(start).Round(time.Millisecond))

	seq := uint64(0)
	publish := func(n int) {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for range n {
			<-tick.C
			seq++
			pub.send(fmt.Sprintf(`{"type":"publish","room":"big","id":"%d","body":{"t":%d,"pad":%q}}`, seq, time.Now().UnixNano(), body))
		}
	}
	latencies := func(from uint64) []time.Duration {
		var out []time.Duration
		for _, m := range all {
			if m.slow {
				continue
			}
			m.mu.Lock()
			for i, s := range m.seqs {
				if s > from {
					out = append(out, m.lat[i])
				}
			}
			m.mu.Unlock()
		}
		return out
	}
	// Phase 1: everybody reads.
	publish(baseline)
	waitFor(t, "baseline delivered", func() bool { return allHave(all, seq, false) })
	before := latencies(0)
	// Phase 2: the slow tenth stops reading; publish until all are closed.
	for _, m := range all {
		if m.slow {
			m.mu.Lock()
			m.paused = true
			m.mu.Unlock()
		}
	}
	phase2 := seq
	slowCount := uint64(members / 10)
	evictStart := time.Now()
	for tg.e.Stats().SlowConsumers < slowCount && time.Since(evictStart) < 8*time.Minute {
		publish(rate)
	}
	if got := tg.e.Stats().SlowConsumers; got != slowCount {
		t.Fatalf("%d slow consumers closed, want %d (dead peers: %d)", got, slowCount, tg.e.Stats().DeadPeers)
	}
	evictIn := time.Since(evictStart)
	publish(rate) // a second more with them gone
	waitFor(t, "phase 2 delivered to the readers", func() bool { return allHave(all, seq, true) })
	during := latencies(phase2)
	summary := fmt.Sprintf("%d members, %d stop reading; %d B bodies at %d/s; budget 32 KiB.\n"+
		"others, all reading:           %d deliveries, %s\n"+
		"others, while %d are stalled:  %d deliveries, %s\n"+
		"all %d stalled members closed with 4001 within %v",
		members, slowCount, len(body), rate, len(before), percentiles(before), slowCount, len(during), percentiles(during),
		slowCount, evictIn.Round(100*time.Millisecond))
	t.Log("\n" + summary)

	// Every reader got every message, in order, once.
	for _, m := range all {
		if m.slow {
			continue
		}
		m.mu.Lock()
		for i, s := range m.seqs {
			if s != uint64(i+1) {
				m.mu.Unlock()
				t.Fatalf("%s: message %d has seq %d: lost or reordered", m.user, i, s)
			}
		}
		m.mu.Unlock()
	}
	// The stalled ones: drain to the 4001, then come back with since.
	for _, m := range all {
		if m.slow {
			close(m.resume)
		}
	}
	waitFor(t, "stalled members see their close", func() bool {
		for _, m := range all {
			m.mu.Lock()
			c := m.closed
			m.mu.Unlock()
			if m.slow && c == 0 {
				return false
			}
		}
		return true
	})
	for i, m := range all {
		if !m.slow {
			continue
		}
		if m.closed != uint16(protocol.StatusSlowConsumer) {
			t.Fatalf("%s closed with %d, want 4001", m.user, m.closed)
		}
		last := uint64(0)
		for i, s := range m.seqs {
			if s != uint64(i+1) {
				t.Fatalf("%s: seq %d at %d before its close", m.user, s, i)
			}
			last = s
		}
		m.wc.c.Close()
		back := tg.open(t, ips[i%len(ips)], m.user) // its own address: the per-IP limits apply
		back.c.SetDeadline(time.Time{})
		back.send(fmt.Sprintf(`{"type":"join","room":"big","since":%d}`, last))
		if j := back.expect("joined"); uint64(j["seq"].(float64)) != seq {
			t.Fatalf("%s rejoined at seq %v, want %d", m.user, j["seq"], seq)
		}
		for want := last + 1; want <= seq; want++ {
			if f := back.expect("message"); uint64(f["seq"].(float64)) != want {
				t.Fatalf("%s replay: seq %v, want %d", m.user, f["seq"], want)
			}
		}
		back.c.Close()
	}
	writeSlowConsumerReport(t, summary)
	for _, m := range all {
		m.wc.c.Close()
	}
	pub.c.Close()
	readers.Wait()
}

// allHave reports whether every member (only the readers, with
// readersOnly) has received seq.
func allHave(all []*member, seq uint64, readersOnly bool) bool {
	for _, m := range all {
		if readersOnly && m.slow {
			continue
		}
		m.mu.Lock()
		n := len(m.seqs)
		m.mu.Unlock()
		if uint64(n) < seq {
			return false
		}
	}
	return true
}

// writeSlowConsumerReport writes the full form's figures where
// scripts/test-adversarial.sh asks (SWITCHBOARD_ADVERSARIAL_REPORT).
func writeSlowConsumerReport(t *testing.T, summary string) {
	path := os.Getenv("SWITCHBOARD_ADVERSARIAL_REPORT")
	if !full || path == "" {
		return
	}
	commit, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	dirty, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	cpu, _ := os.ReadFile("/proc/cpuinfo")
	model := "unknown"
	for _, l := range strings.Split(string(cpu), "\n") {
		if strings.HasPrefix(l, "model name") {
			model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
			break
		}
	}
	state := ""
	if len(dirty) > 0 {
		state = " (uncommitted changes)"
	}
	report := fmt.Sprintf(`# Slow consumers in a 5,000-member room

Measured by TestSlowConsumersInABigRoom (engine/adversarial, full form).

- command: `+"`make test-adversarial`"+` (SWITCHBOARD_ADVERSARIAL=full go test -run TestSlowConsumersInABigRoom ./engine/adversarial/)
- commit: %s%s
- machine: %d CPUs (%s), %s/%s, %s; server and 5,000 clients in one process
- date: %s

One publisher; every member's reader records publish-to-delivery time. Then
every tenth member stops reading and publishing goes on until each of them
is closed with 4001. The stalled members connect like clients across a real
network (64 KiB receive buffer, MSS 1,460; over loopback's 64 KiB MSS the
kernel would let megabytes pile up before the engine's queue is touched). Latency figures are for the members that keep reading.

`+"```"+`
%s
`+"```"+`

Afterwards every stalled member drained to its 4001 close, reconnected, and
joined with since = the last seq it had seen: each got exactly the messages
it missed, in order. The members that kept reading got every message once,
in order.
`, strings.TrimSpace(string(commit)), state, runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH,
		runtime.Version(), time.Now().UTC().Format(time.RFC3339), summary)
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
		t.Errorf("write report: %v", err)
	}
	t.Logf("report written to %s", path)
}
