package adversarial

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/engine/auth"
	"github.com/switchboard-chat/switchboard/poller"
	"github.com/switchboard-chat/switchboard/room"
	"github.com/switchboard-chat/switchboard/store/memory"
)

// full is the scaled-up form (make test-adversarial).
var full = os.Getenv("SWITCHBOARD_ADVERSARIAL") == "full"

// scale picks a figure for the short or the full form.
func scale(short, fullForm int) int {
	if full {
		return fullForm
	}
	return short
}

func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		os.Exit(runHelper(role)) // this process is an attacker for a parent test
	}
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait"),
		goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait.func1"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// testSecret signs the suite's tokens (HS256).
var testSecret = []byte("adversarial-suite-secret-0123456789abcdef")

// allowedOrigin is the one browser origin the target accepts.
const allowedOrigin = "https://chat.example"

// target is a running server as `serve` builds it: engine, chat service
// at /ws with JWT auth, memory store, and serve's per-IP defaults with no
// loopback exemption, so the attacks meet them.
type target struct {
	e       *engine.Engine
	svc     *room.Service
	signer  *auth.Signer
	addr    string
	backend string
}

func startTarget(t testing.TB, backend string, mutate func(*engine.Config, *room.Config)) *target {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ecfg := engine.Config{Addr: "127.0.0.1:0", Backend: backend, Loops: 2, Workers: 4, Logger: quiet,
		MaxConnsPerIP: 1000, HandshakeRatePerIP: 50, HandshakeBurstPerIP: 500,
		Subprotocols: []string{auth.Subprotocol},
		CheckOrigin:  func(o []byte) bool { return len(o) == 0 || strings.EqualFold(string(o), allowedOrigin) }}
	st, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(auth.Config{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	rcfg := room.Config{Store: st, Auth: verifier, Logger: quiet}
	if mutate != nil {
		mutate(&ecfg, &rcfg)
	}
	e, err := engine.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := room.New(e, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Handle("/ws", svc)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
		svc.Close()
	})
	return &target{e: e, svc: svc, signer: signer, addr: e.Addr().String(), backend: backend}
}

func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	t.Helper()
	for _, b := range poller.Backends {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

// token mints a valid one-hour token for user.
func (tg *target) token(t testing.TB, user string) string {
	t.Helper()
	tok, err := tg.signer.Mint(user, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dialFrom opens a TCP connection from a loopback source address (any of
// 127.0.0.0/8), so a test can be many clients as the per-IP limits see
// them. The test's cleanup closes it.
func (tg *target) dialFrom(t testing.TB, ip string) net.Conn { return tg.dial(t, ip, nil) }

// dial is dialFrom with a socket option hook (net.Dialer.Control).
func (tg *target) dial(t testing.TB, ip string, control func(network, address string, c syscall.RawConn) error) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Control: control}
	c, err := d.Dial("tcp", tg.addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// upgradeRequest is a valid request for /ws carrying a token for user
// (none when user is ""), plus extra header lines.
func upgradeRequest(tg *target, t testing.TB, user string, extra ...string) string {
	var key [16]byte
	rand.Read(key[:])
	var b strings.Builder
	b.WriteString("GET /ws HTTP/1.1\r\nHost: " + tg.addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
	b.WriteString("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\n")
	if user != "" {
		b.WriteString("Authorization: Bearer " + tg.token(t, user) + "\r\n")
	}
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// httpAnswer sends raw request bytes on a fresh connection, returns the
// server's HTTP answer and closes the connection; for anything but 101 it
// first checks that the server closes it.
func (tg *target) httpAnswer(t testing.TB, ip string, request []byte) *http.Response {
	t.Helper()
	c := tg.dialFrom(t, ip)
	if _, err := c.Write(request); err != nil {
		t.Fatalf("write request: %v", err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		if _, err := r.ReadByte(); err == nil {
			t.Fatalf("status %d: connection still open and sending", resp.StatusCode)
		}
	}
	c.Close() // an upgraded one too: tg.open is for connections to use
	return resp
}

// wsConn is an upgraded raw connection: the test writes whatever bytes it
// likes and reads frames as they come.
type wsConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

// open upgrades a raw connection for user from ip and reads the welcome.
func (tg *target) open(t testing.TB, ip, user string, extra ...string) *wsConn {
	t.Helper()
	return tg.upgrade(t, tg.dialFrom(t, ip), user, extra...)
}

// upgrade upgrades c for user and reads the welcome.
func (tg *target) upgrade(t testing.TB, c net.Conn, user string, extra ...string) *wsConn {
	t.Helper()
	if _, err := io.WriteString(c, upgradeRequest(tg, t, user, extra...)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade for %s: status %d", user, resp.StatusCode)
	}
	wc := &wsConn{t: t, c: c, r: r}
	if f := wc.next(); f["type"] != "welcome" {
		t.Fatalf("first frame %v, want welcome", f)
	}
	return wc
}

func (wc *wsConn) write(b ...[]byte) {
	wc.t.Helper()
	if _, err := wc.c.Write(slices.Concat(b...)); err != nil {
		wc.t.Fatalf("write: %v", err)
	}
}

// send writes one text message holding a chat frame.
func (wc *wsConn) send(frame string) {
	wc.t.Helper()
	wc.write(frameBytes(true, 0, ws.OpText, []byte(frame)))
}

// readFrame reads one server frame.
func (wc *wsConn) readFrame() (ws.Header, []byte, error) {
	h, err := ws.ReadHeader(wc.r)
	if err != nil {
		return h, nil, err
	}
	if h.Masked {
		return h, nil, fmt.Errorf("server frame is masked")
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(wc.r, p)
	return h, p, err
}

// next returns the next chat frame, answering nothing; it fails the test on
// a close or an error.
func (wc *wsConn) next() map[string]any {
	wc.t.Helper()
	for {
		h, p, err := wc.readFrame()
		if err != nil {
			wc.t.Fatalf("read: %v", err)
		}
		switch h.OpCode {
		case ws.OpClose:
			wc.t.Fatalf("closed (%s) while waiting for a chat frame", closeString(p))
		case ws.OpText:
			var f map[string]any
			if err := json.Unmarshal(p, &f); err != nil {
				wc.t.Fatalf("server sent invalid JSON %q", p)
			}
			return f
		}
	}
}

// expect returns the next frame of type typ, skipping room broadcasts.
func (wc *wsConn) expect(typ string) map[string]any {
	wc.t.Helper()
	for {
		f := wc.next()
		if f["type"] == typ {
			return f
		}
		switch f["type"] {
		case "presence", "typing", "read", "message", "role", "kicked":
			continue
		}
		wc.t.Fatalf("got %v while waiting for %s", f, typ)
	}
}

func (wc *wsConn) expectError(code string) map[string]any {
	wc.t.Helper()
	f := wc.expect("error")
	if f["code"] != code {
		wc.t.Fatalf("error %v, want code %s", f, code)
	}
	return f
}

// expectClose reads until the server's close frame, checks its code, and
// then that the server drops the connection.
func (wc *wsConn) expectClose(want ws.StatusCode) {
	wc.t.Helper()
	for {
		h, p, err := wc.readFrame()
		if err != nil {
			wc.t.Fatalf("read while waiting for close %d: %v", want, err)
		}
		if h.OpCode != ws.OpClose {
			continue
		}
		if code := closeCode(p); code != want {
			wc.t.Fatalf("close %s, want %d", closeString(p), want)
		}
		break
	}
	// Answer like a client would, and end our side: after a protocol
	// error the server cannot parse our close frame, but it sees the EOF.
	wc.c.Write(frameBytes(true, 0, ws.OpClose, nil))
	wc.c.(*net.TCPConn).CloseWrite()
	wc.expectEOF()
}

// expectEOF checks that the server drops the connection without sending
// anything more than control frames.
func (wc *wsConn) expectEOF() {
	wc.t.Helper()
	for {
		h, p, err := wc.readFrame()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				wc.t.Fatal("server did not close the connection")
			}
			return
		}
		if h.OpCode == ws.OpText || h.OpCode == ws.OpBinary {
			wc.t.Fatalf("data after close: %q", p)
		}
	}
}

func closeCode(p []byte) ws.StatusCode {
	if len(p) < 2 {
		return 0
	}
	return ws.StatusCode(binary.BigEndian.Uint16(p))
}

func closeString(p []byte) string {
	if len(p) < 2 {
		return "no code"
	}
	return fmt.Sprintf("%d %q", closeCode(p), p[2:])
}

// frameBytes builds one masked client frame with any bits the test wants:
// rsv is the three reserved bits (RSV1 = 4).
func frameBytes(fin bool, rsv byte, op ws.OpCode, payload []byte) []byte {
	b0 := rsv<<4 | byte(op)
	if fin {
		b0 |= 0x80
	}
	var hdr []byte
	switch n := len(payload); {
	case n < 126:
		hdr = []byte{b0, 0x80 | byte(n)}
	case n <= 0xffff:
		hdr = []byte{b0, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		hdr = binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, uint64(n))
	}
	return maskedAfter(hdr, payload)
}

// maskedAfter appends a random mask and payload masked with it to hdr.
func maskedAfter(hdr, payload []byte) []byte {
	var mask [4]byte
	rand.Read(mask[:])
	out := append(append(hdr, mask[:]...), payload...)
	ws.Cipher(out[len(hdr)+4:], mask, 0)
	return out
}

// closePayload is a close frame's payload: code and reason.
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// waitFor polls cond until it holds or the deadline passes. It waits on
// the server's counters, which nothing can announce; the polling interval
// is not what the test measures.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Duration(scale(60, 300)) * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// heapSlack is how far above its pre-attack level the heap after GC may be
// once an attack is over and its sockets are gone. Anything the server
// kept per attacking socket or message (10,000 slowloris sockets at even
// 1 KiB each is 10 MiB) would exceed it.
const heapSlack = 8 << 20

// heapAfterGC is the live heap: two GCs so sync.Pool victims go too.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// attack runs f against tg while a bystander pair keeps exchanging
// messages, then asserts that the bystander was served throughout (more
// messages delivered after f, none lost or reordered), that the server
// dropped every attacking socket, and that the heap came back to within
// heapSlack of its level before the attack. tg must have no other client.
func (tg *target) attack(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	b := tg.startBystander(t)
	tg.settle(t, 2)
	before := heapAfterGC()
	b.mark()
	f(t)
	b.finish(t, 5)
	tg.settle(t, 0)
	after := heapAfterGC()
	t.Logf("heap after GC: %.1f MiB before, %.1f MiB after (bound +%d MiB)",
		float64(before)/(1<<20), float64(after)/(1<<20), heapSlack>>20)
	if after > before+heapSlack {
		t.Errorf("heap after GC grew from %d to %d bytes: more than %d", before, after, heapSlack)
	}
}

// settle waits until the server holds exactly conns open connections and
// none mid-handshake: every attacking socket is gone.
func (tg *target) settle(t testing.TB, conns int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("server down to %d connections", conns), func() bool {
		st := tg.e.Stats()
		return st.Conns == conns && st.Handshaking == 0
	})
}
