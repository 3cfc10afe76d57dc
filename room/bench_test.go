package room

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/engine"
)

// BenchmarkFanout measures fan-out through the whole server: engine, room
// service and memory store, on loopback. One iteration is one publish,
// done when every member has received it. Members are raw sockets read by
// lean goroutines (a fixed buffer, no JSON decoding beyond finding seq), so
// the benchmark's own cost per delivery stays small next to the server's.
// Both ends of every connection hold an fd in this process, so it stays
// well under the 20,000-fd limit; bench/ (swload fanout) drives larger rooms
// from separate processes.
func BenchmarkFanout(b *testing.B) {
	for _, members := range []int{100, 1000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) { benchFanout(b, members) })
	}
}

// benchUsers is how many distinct user names the members share. Presence
// goes out on a user's first join only, so a few names keep the setup from
// costing members²/2 presence frames; deliveries are per connection either
// way.
const benchUsers = 10

func benchFanout(b *testing.B, members int) {
	s := startServer(b, func(_ *engine.Config, c *Config) { unlimited(c) })
	addr := s.e.Addr().String()

	var delivered atomic.Int64 // messages received by all members together
	var target atomic.Int64    // the count that completes the current publish
	done := make(chan struct{}, 1)
	var wg sync.WaitGroup

	pub := dialRaw(b, addr, "publisher")
	pub.send(b, `{"type":"create","room":"fan"}`)
	pub.await(b, "created")
	pub.send(b, `{"type":"join","room":"fan"}`)
	pub.await(b, "joined")

	conns := []*rawConn{pub}
	b.Cleanup(func() {
		for _, c := range conns {
			c.conn.Close()
		}
		wg.Wait()
	})
	for i := range members {
		m := dialRaw(b, addr, fmt.Sprintf("m%d", i%benchUsers))
		conns = append(conns, m)
		m.send(b, `{"type":"join","room":"fan"}`)
		m.await(b, "joined")
		wg.Go(func() {
			err := m.readMessages(func() {
				if delivered.Add(1) == target.Load() {
					done <- struct{}{}
				}
			})
			if err != nil {
				b.Error(err)
			}
		})
	}
	wg.Go(func() { _ = pub.discard() }) // acks and the publisher's own copies

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	n := 0
	publish := func() {
		n++
		target.Store(int64(n * members))
		pub.send(b, `{"type":"publish","room":"fan","id":"b`+strconv.Itoa(n)+`","body":{"n":`+strconv.Itoa(n)+`}}`)
		timer.Reset(10 * time.Second)
		select {
		case <-done:
		case <-timer.C:
			b.Fatalf("publish %d: %d of %d deliveries within 10s", n, delivered.Load()-int64((n-1)*members), members)
		}
	}
	// One publish before the clock starts: fan-out runs on each member's
	// worker after the presence broadcasts the joins queued there, so once
	// it has arrived everywhere the setup traffic is over.
	publish()

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		publish()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "deliveries/s")
}

// rawConn is a benchmark client on a plain TCP connection: a hand-written
// upgrade and hand-parsed frames.
type rawConn struct {
	conn    net.Conn
	user    string
	buf     []byte // fixed read buffer
	r, w    int    // unread bytes are buf[r:w]
	lastSeq uint64
}

func dialRaw(b *testing.B, addr, user string) *rawConn {
	b.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	_, err = fmt.Fprintf(conn, "GET /ws?user=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", user, addr)
	if err != nil {
		b.Fatal(err)
	}
	c := &rawConn{conn: conn, user: user, buf: make([]byte, 64<<10)}
	// Read the response head; frames may follow it in the same read.
	for {
		if i := bytes.Index(c.buf[:c.w], []byte("\r\n\r\n")); i >= 0 {
			if !bytes.HasPrefix(c.buf, []byte("HTTP/1.1 101")) {
				b.Fatalf("%s: upgrade refused: %q", user, c.buf[:i])
			}
			c.r = i + 4
			break
		}
		if err := c.fill(); err != nil {
			b.Fatalf("%s: upgrade: %v", user, err)
		}
	}
	return c
}

// fill reads more bytes into buf, first moving the unread ones to the front.
func (c *rawConn) fill() error {
	if c.r > 0 {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	if c.w == len(c.buf) {
		return errors.New("frame larger than the read buffer")
	}
	n, err := c.conn.Read(c.buf[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// next returns the payload of the next data frame (pings are answered,
// pongs skipped). The payload is valid until the following call.
func (c *rawConn) next() ([]byte, error) {
	for {
		p, op, ok := c.parse()
		if !ok {
			if err := c.fill(); err != nil {
				return nil, err
			}
			continue
		}
		switch op {
		case 0x1, 0x2:
			return p, nil
		case 0x8:
			return nil, fmt.Errorf("%s: server closed: %q", c.user, p)
		case 0x9:
			if err := c.write(0xA, p); err != nil {
				return nil, err
			}
		}
	}
}

// parse takes one complete unmasked server frame off buf, if there is one.
func (c *rawConn) parse() (payload []byte, op byte, ok bool) {
	b := c.buf[c.r:c.w]
	if len(b) < 2 {
		return nil, 0, false
	}
	op = b[0] & 0x0F
	n, hdr := int(b[1]&0x7F), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return nil, 0, false
		}
		n, hdr = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return nil, 0, false
		}
		n, hdr = int(binary.BigEndian.Uint64(b[2:])), 10
	}
	if len(b) < hdr+n {
		return nil, 0, false
	}
	c.r += hdr + n
	return b[hdr : hdr+n], op, true
}

// write sends one masked frame.
func (c *rawConn) write(op byte, payload []byte) error {
	f := make([]byte, 0, 14+len(payload))
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|op, 0x80|byte(n))
	case n <= 0xFFFF:
		f = append(f, 0x80|op, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|op, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	var key [4]byte
	rand.Read(key[:])
	f = append(f, key[:]...)
	for i, x := range payload {
		f = append(f, x^key[i%4])
	}
	_, err := c.conn.Write(f)
	return err
}

func (c *rawConn) send(b *testing.B, frame string) {
	b.Helper()
	if err := c.write(0x1, []byte(frame)); err != nil {
		b.Fatalf("%s: send: %v", c.user, err)
	}
}

// await reads frames until one of type typ, failing on an error frame.
func (c *rawConn) await(b *testing.B, typ string) {
	b.Helper()
	want := []byte(`{"type":"` + typ + `"`)
	for {
		p, err := c.next()
		if err != nil {
			b.Fatalf("%s: waiting for %s: %v", c.user, typ, err)
		}
		if bytes.HasPrefix(p, want) {
			if typ == "joined" {
				c.lastSeq, _ = seqIn(p)
			}
			return
		}
		if bytes.HasPrefix(p, []byte(`{"type":"error"`)) {
			b.Fatalf("%s: waiting for %s: %s", c.user, typ, p)
		}
	}
}

// readMessages calls got for every message frame until the connection
// closes, checking that seq goes up by exactly one. A closed connection is
// the normal end and returns nil.
func (c *rawConn) readMessages(got func()) error {
	prefix := []byte(`{"type":"message"`)
	for {
		p, err := c.next()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: %w", c.user, err)
		}
		if !bytes.HasPrefix(p, prefix) {
			continue // presence
		}
		seq, ok := seqIn(p)
		if !ok || seq != c.lastSeq+1 {
			return fmt.Errorf("%s: message seq %d after %d: %s", c.user, seq, c.lastSeq, p)
		}
		c.lastSeq = seq
		got()
	}
}

// discard reads and drops frames until the connection closes.
func (c *rawConn) discard() error {
	br := bufio.NewReader(c.conn)
	_, err := io.Copy(io.Discard, br)
	return err
}

// seqIn finds the first "seq": number in a server frame.
func seqIn(p []byte) (uint64, bool) {
	i := bytes.Index(p, []byte(`"seq":`))
	if i < 0 {
		return 0, false
	}
	var v uint64
	j := i + len(`"seq":`)
	for ; j < len(p) && p[j] >= '0' && p[j] <= '9'; j++ {
		v = v*10 + uint64(p[j]-'0')
	}
	return v, j > i+len(`"seq":`)
}
