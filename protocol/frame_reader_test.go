package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/gobwas/ws"
)

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d} // the mask of RFC 6455's examples

// frameSpec describes a client frame; lenBits forces the length encoding
// (7, 16 or 64 bits; 0 = minimal).
type frameSpec struct {
	op      ws.OpCode
	fin     bool
	rsv     byte // the three RSV bits, 0b100 = RSV1
	payload []byte
	unmask  bool
	lenBits int
}

// clientFrame encodes a frame as a client sends it (masked with testMask).
func clientFrame(f frameSpec) []byte {
	b0 := byte(f.op) | f.rsv<<4
	if f.fin {
		b0 |= 0x80
	}
	var b1 byte
	if !f.unmask {
		b1 = 0x80
	}
	n := len(f.payload)
	bits := f.lenBits
	if bits == 0 {
		bits = map[bool]int{true: 7, false: 16}[n <= 125]
		if n > 0xffff {
			bits = 64
		}
	}
	out := []byte{b0}
	switch bits {
	case 7:
		out = append(out, b1|byte(n))
	case 16:
		out = binary.BigEndian.AppendUint16(append(out, b1|126), uint16(n))
	default:
		out = binary.BigEndian.AppendUint64(append(out, b1|127), uint64(n))
	}
	if f.unmask {
		return append(out, f.payload...)
	}
	out = append(out, testMask[:]...)
	start := len(out)
	out = append(out, f.payload...)
	ws.Cipher(out[start:], testMask, 0)
	return out
}

func text(s string, fin bool) []byte {
	return clientFrame(frameSpec{op: ws.OpText, fin: fin, payload: []byte(s)})
}
func cont(s string, fin bool) []byte {
	return clientFrame(frameSpec{op: ws.OpContinuation, fin: fin, payload: []byte(s)})
}
func control(op ws.OpCode, payload []byte) []byte {
	return clientFrame(frameSpec{op: op, fin: true, payload: payload})
}
func closePayload(code ws.StatusCode, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}
func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// outcome is what a Reader made of a whole stream; split feedings must agree.
type outcome struct {
	events []string // completed messages and control frames, in order
	err    ws.StatusCode
	rest   int // bytes left unconsumed at the end (an incomplete frame)
}

// drive feeds stream to a fresh Reader in chunks cut at splits (sorted
// offsets), keeping unconsumed bytes and appending new ones like the engine
// does, and reassembles messages from the streamed chunks.
func drive(tb testing.TB, cfg *FrameConfig, stream []byte, splits []int) outcome {
	tb.Helper()
	var r Reader
	r.Reset(cfg)
	var out outcome
	var pending, msg []byte
	var msgOp ws.OpCode
	var compressed bool
	prev := 0
	for i := 0; i <= len(splits); i++ {
		end := len(stream)
		if i < len(splits) {
			end = min(max(splits[i], prev), len(stream))
		}
		pending = append(pending, stream[prev:end]...)
		prev = end
		for guard := 0; ; guard++ {
			if guard > len(stream)+10 {
				tb.Fatalf("Next does not make progress")
			}
			ev, n, err := r.Next(pending)
			if err != nil {
				if n != 0 || ev.Kind != EventNone {
					tb.Fatalf("error %v came with n=%d kind=%d", err, n, ev.Kind)
				}
				out.err = CloseCodeFor(err)
				if _, n2, err2 := r.Next(pending); err2 != err || n2 != 0 {
					tb.Fatalf("failure is not sticky: %v, %d", err2, n2)
				}
				return out
			}
			if n < 0 || n > len(pending) {
				tb.Fatalf("n=%d out of range (len %d)", n, len(pending))
			}
			if n == 0 && ev.Kind != EventNone {
				tb.Fatalf("event %d with n=0", ev.Kind)
			}
			switch ev.Kind {
			case EventData:
				if msg == nil {
					msgOp, compressed, msg = ev.Op, ev.Compressed, []byte{}
				} else if ev.Op != msgOp || ev.Compressed != compressed {
					tb.Fatalf("chunk op/compressed changed mid-message")
				}
				msg = append(msg, ev.Payload...)
				if ev.Fin {
					out.events = append(out.events, fmt.Sprintf("msg op=%d z=%v %q", msgOp, compressed, msg))
					msg = nil
				}
			case EventPing, EventPong:
				out.events = append(out.events, fmt.Sprintf("ctl kind=%d %q", ev.Kind, ev.Payload))
			case EventClose:
				out.events = append(out.events, fmt.Sprintf("close %d %q", ev.CloseCode, ev.Payload))
			}
			pending = pending[n:]
			if n == 0 {
				break
			}
		}
	}
	out.rest = len(pending)
	return out
}

// driveAllWays checks that whole, byte-at-a-time and random-split feeding
// agree, and returns the outcome.
func driveAllWays(tb testing.TB, cfg *FrameConfig, stream []byte, seed uint64) outcome {
	tb.Helper()
	want := drive(tb, cfg, bytes.Clone(stream), nil)
	every := make([]int, len(stream))
	for i := range every {
		every[i] = i
	}
	check := func(how string, splits []int) {
		tb.Helper()
		got := drive(tb, cfg, bytes.Clone(stream), splits)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			tb.Fatalf("%s feeding differs:\n got %v\nwant %v", how, got, want)
		}
	}
	check("byte-at-a-time", every)
	rng := rand.New(rand.NewPCG(seed, 7))
	for range 20 {
		check("random-split", randomSplits(rng, len(stream)))
	}
	return want
}

func randomSplits(rng *rand.Rand, n int) []int {
	var s []int
	for pos := 0; pos < n; {
		pos += 1 + rng.IntN(9)
		s = append(s, pos)
	}
	return s
}

func TestReaderRFCExamples(t *testing.T) {
	// RFC 6455 section 5.7, verbatim bytes.
	maskedHello := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	if !bytes.Equal(maskedHello, text("Hello", true)) {
		t.Fatalf("test encoder disagrees with RFC: %x", text("Hello", true))
	}
	cases := []struct {
		name   string
		stream []byte
		want   []string
	}{
		{"masked text", maskedHello, []string{`msg op=1 z=false "Hello"`}},
		{"fragmented", concat(text("Hel", false), cont("lo", true)), []string{`msg op=1 z=false "Hello"`}},
		{"ping", control(ws.OpPing, []byte("Hello")), []string{`ctl kind=2 "Hello"`}},
		{"pong", control(ws.OpPong, []byte("Hello")), []string{`ctl kind=3 "Hello"`}},
		{"binary 256", clientFrame(frameSpec{op: ws.OpBinary, fin: true, payload: bytes.Repeat([]byte{7}, 256)}),
			[]string{fmt.Sprintf("msg op=2 z=false %q", bytes.Repeat([]byte{7}, 256))}},
		{"binary 64KiB", clientFrame(frameSpec{op: ws.OpBinary, fin: true, payload: bytes.Repeat([]byte{9}, 65536)}),
			[]string{fmt.Sprintf("msg op=2 z=false %q", bytes.Repeat([]byte{9}, 65536))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := driveAllWays(t, nil, tc.stream, 1)
			if got.err != 0 || got.rest != 0 || fmt.Sprint(got.events) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want events %v", got, tc.want)
			}
		})
	}
}

func TestReaderValid(t *testing.T) {
	hello := []byte("hello")
	cases := []struct {
		name   string
		cfg    *FrameConfig
		stream []byte
		want   []string
		rest   int
	}{
		{"16-bit length for 5 bytes (non-minimal)", nil,
			clientFrame(frameSpec{op: ws.OpText, fin: true, payload: hello, lenBits: 16}), []string{`msg op=1 z=false "hello"`}, 0},
		{"64-bit length for 5 bytes (non-minimal)", nil,
			clientFrame(frameSpec{op: ws.OpBinary, fin: true, payload: hello, lenBits: 64}), []string{`msg op=2 z=false "hello"`}, 0},
		{"empty text", nil, text("", true), []string{`msg op=1 z=false ""`}, 0},
		{"empty fragments", nil, concat(text("", false), cont("", false), cont("", true)), []string{`msg op=1 z=false ""`}, 0},
		{"controls between fragments", nil,
			concat(text("a", false), control(ws.OpPing, []byte("p")), cont("b", false), control(ws.OpPong, nil), cont("c", true)),
			[]string{`ctl kind=2 "p"`, `ctl kind=3 ""`, `msg op=1 z=false "abc"`}, 0},
		{"utf8 split across fragments", nil, concat(text("caf\xc3", false), cont("\xa9 \xf0\x9f", false), cont("\x98\x80", true)),
			[]string{`msg op=1 z=false "café 😀"`}, 0},
		{"close empty", nil, control(ws.OpClose, nil), []string{`close 1005 ""`}, 0},
		{"close with reason", nil, control(ws.OpClose, closePayload(1001, "bye")), []string{`close 1001 "bye"`}, 0},
		{"close private code", nil, control(ws.OpClose, closePayload(4001, "")), []string{`close 4001 ""`}, 0},
		{"input after close discarded", nil, concat(control(ws.OpClose, closePayload(1000, "")), text("late", true), []byte{0xff}),
			[]string{`close 1000 ""`}, 0},
		{"compressed message", &FrameConfig{Compression: true},
			concat(clientFrame(frameSpec{op: ws.OpText, rsv: 4, payload: []byte("\xff\xfe")}), cont("\x00", true)),
			[]string{`msg op=1 z=true "\xff\xfe\x00"`}, 0},
		{"incomplete header kept", nil, concat(text("a", true), []byte{0x81, 0xfe, 0x01}), []string{`msg op=1 z=false "a"`}, 3},
		{"incomplete control kept", nil, concat(text("a", true), control(ws.OpPing, hello)[:8]), []string{`msg op=1 z=false "a"`}, 8},
		{"exact frame limit", &FrameConfig{MaxFrameBytes: 5, MaxMessageBytes: 5}, text("hello", true), []string{`msg op=1 z=false "hello"`}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := driveAllWays(t, tc.cfg, tc.stream, 2)
			if got.err != 0 || got.rest != tc.rest || fmt.Sprint(got.events) != fmt.Sprint(tc.want) {
				t.Fatalf("got %+v\nwant events %v rest %d", got, tc.want, tc.rest)
			}
		})
	}
}

func TestReaderViolations(t *testing.T) {
	big := func(n int64) []byte { // a 64-bit-length header announcing n bytes
		return binary.BigEndian.AppendUint64([]byte{0x82, 0xff}, uint64(n))
	}
	cases := []struct {
		name   string
		cfg    *FrameConfig
		stream []byte
		want   ws.StatusCode
	}{
		{"rsv1 not negotiated", nil, clientFrame(frameSpec{op: ws.OpText, fin: true, rsv: 4, payload: []byte("a")}), 1002},
		{"rsv2", &FrameConfig{Compression: true}, clientFrame(frameSpec{op: ws.OpText, fin: true, rsv: 2}), 1002},
		{"rsv3", &FrameConfig{Compression: true}, clientFrame(frameSpec{op: ws.OpText, fin: true, rsv: 1}), 1002},
		{"rsv1 on continuation", &FrameConfig{Compression: true},
			concat(clientFrame(frameSpec{op: ws.OpText, rsv: 4}), clientFrame(frameSpec{op: ws.OpContinuation, fin: true, rsv: 4})), 1002},
		{"rsv1 on ping", &FrameConfig{Compression: true}, clientFrame(frameSpec{op: ws.OpPing, fin: true, rsv: 4}), 1002},
		{"unmasked", nil, clientFrame(frameSpec{op: ws.OpText, fin: true, payload: []byte("a"), unmask: true}), 1002},
		{"opcode 3", nil, clientFrame(frameSpec{op: 3, fin: true}), 1002},
		{"opcode 7", nil, clientFrame(frameSpec{op: 7, fin: true}), 1002},
		{"opcode 0xB", nil, clientFrame(frameSpec{op: 0xB, fin: true}), 1002},
		{"opcode 0xF", nil, clientFrame(frameSpec{op: 0xF, fin: true}), 1002},
		{"ping 126 bytes", nil, clientFrame(frameSpec{op: ws.OpPing, fin: true, payload: make([]byte, 126)}), 1002},
		{"ping 16-bit length", nil, clientFrame(frameSpec{op: ws.OpPing, fin: true, payload: []byte("a"), lenBits: 16}), 1002},
		{"fragmented ping", nil, clientFrame(frameSpec{op: ws.OpPing, payload: []byte("a")}), 1002},
		{"fragmented close", nil, clientFrame(frameSpec{op: ws.OpClose}), 1002},
		{"continuation first", nil, cont("a", true), 1002},
		{"continuation after end", nil, concat(text("a", true), cont("b", true)), 1002},
		{"text inside fragmented", nil, concat(text("a", false), text("b", true)), 1002},
		{"binary inside fragmented", nil, concat(text("a", false), clientFrame(frameSpec{op: ws.OpBinary, fin: true})), 1002},
		{"64-bit length top bit", nil, append(big(-1<<63), testMask[:]...), 1002},
		{"frame over default 1MiB", nil, append(big(1<<20+1), testMask[:]...), 1009},
		{"frame over limit, no payload yet", &FrameConfig{MaxFrameBytes: 4}, text("hello", true)[:6], 1009},
		{"message over limit", &FrameConfig{MaxMessageBytes: 8},
			concat(text("hello", false), cont("wor", false), cont("l", true)), 1009},
		{"invalid utf8", nil, text("a\xffb", true), 1007},
		{"surrogate across fragments", nil, concat(text("\xed", false), cont("\xa0\x80", true)), 1007},
		{"truncated utf8 at fin", nil, concat(text("ok", false), cont("\xe2\x82", true)), 1007},
		{"invalid utf8 caught before the frame ends", nil, text("\xff"+string(make([]byte, 300)), true)[:12], 1007},
		{"close 1 byte", nil, control(ws.OpClose, []byte{3}), 1002},
		{"close 999", nil, control(ws.OpClose, closePayload(999, "")), 1002},
		{"close 1004", nil, control(ws.OpClose, closePayload(1004, "")), 1002},
		{"close 1005", nil, control(ws.OpClose, closePayload(1005, "")), 1002},
		{"close 1006", nil, control(ws.OpClose, closePayload(1006, "")), 1002},
		{"close 1015", nil, control(ws.OpClose, closePayload(1015, "")), 1002},
		{"close 1016", nil, control(ws.OpClose, closePayload(1016, "")), 1002},
		{"close 2999", nil, control(ws.OpClose, closePayload(2999, "")), 1002},
		{"close 5000", nil, control(ws.OpClose, closePayload(5000, "")), 1002},
		{"close reason bad utf8", nil, control(ws.OpClose, closePayload(1000, "\xc0\xaf")), 1007},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := driveAllWays(t, tc.cfg, tc.stream, 3)
			if got.err != tc.want {
				t.Fatalf("got %+v, want close code %d", got, tc.want)
			}
		})
	}
}

// TestReaderUTF8EveryBoundary splits a multi-byte text message into two
// fragments at every byte, and feeds each stream at every byte.
func TestReaderUTF8EveryBoundary(t *testing.T) {
	msg := "a\u00e9\u20ac\U0001F600z"
	for i := 0; i <= len(msg); i++ {
		stream := concat(text(msg[:i], false), cont(msg[i:], true))
		got := driveAllWays(t, nil, stream, uint64(i))
		if got.err != 0 || len(got.events) != 1 || got.events[0] != fmt.Sprintf("msg op=1 z=false %q", msg) {
			t.Fatalf("split at %d: %+v", i, got)
		}
		bad := msg[:i] + "\xff" + msg[i:]
		if got := drive(t, nil, text(bad, true), nil); got.err != 1007 {
			t.Fatalf("invalid byte at %d: %+v", i, got)
		}
	}
}

func TestReaderStreamsPayload(t *testing.T) {
	var r Reader
	frame := clientFrame(frameSpec{op: ws.OpBinary, fin: true, payload: []byte("0123456789")})
	ev, n, err := r.Next(frame[:2+4])
	if err != nil || ev.Kind != EventNone || n != 6 {
		t.Fatalf("header alone: %+v %d %v", ev, n, err)
	}
	ev, n, err = r.Next(frame[6:10])
	if err != nil || ev.Kind != EventData || n != 4 || ev.Fin || string(ev.Payload) != "0123" {
		t.Fatalf("first chunk: %+v %d %v", ev, n, err)
	}
	ev, n, err = r.Next(frame[10:])
	if err != nil || n != 6 || !ev.Fin || string(ev.Payload) != "456789" {
		t.Fatalf("last chunk: %+v %d %v", ev, n, err)
	}
	// The payload is unmasked in place: the input itself now holds it.
	if string(frame[6:]) != "0123456789" {
		t.Fatalf("not unmasked in place: %q", frame[6:])
	}
}

func TestReaderResetClearsFailure(t *testing.T) {
	var r Reader
	if _, _, err := r.Next(cont("x", true)); CloseCodeFor(err) != 1002 {
		t.Fatalf("want 1002, got %v", err)
	}
	r.Reset(nil)
	if ev, _, err := r.Next(text("ok", true)); err != nil || string(ev.Payload) != "ok" {
		t.Fatalf("after Reset: %+v %v", ev, err)
	}
}

func TestReaderSize(t *testing.T) {
	if size := unsafe.Sizeof(Reader{}); size > 64 {
		t.Fatalf("Reader is %d bytes, budget is 64", size)
	}
}

func FuzzFrameReader(f *testing.F) {
	seeds := [][]byte{
		text("Hello", true),
		concat(text("Hel", false), control(ws.OpPing, []byte("p")), cont("lo", true)),
		clientFrame(frameSpec{op: ws.OpBinary, fin: true, payload: make([]byte, 300)}),
		control(ws.OpClose, closePayload(1000, "bye")),
		clientFrame(frameSpec{op: ws.OpText, fin: true, rsv: 4, payload: []byte{1, 2}}),
		text("caf\xc3\xa9", true),
		text("\xed\xa0\x80", true),
		{0x81, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0},
	}
	for i, s := range seeds {
		f.Add(s, uint64(i), true)
	}
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64, compression bool) {
		cfg := &FrameConfig{Compression: compression, MaxFrameBytes: 4096, MaxMessageBytes: 8192}
		want := drive(t, cfg, bytes.Clone(stream), nil)
		rng := rand.New(rand.NewPCG(seed, 1))
		for range 3 {
			got := drive(t, cfg, bytes.Clone(stream), randomSplits(rng, len(stream)))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("split feeding differs:\n got %v\nwant %v", got, want)
			}
		}
	})
}

// maskedStream builds count masked frames of size bytes each.
func maskedStream(count, size int) []byte {
	payload := bytes.Repeat([]byte("x"), size)
	var out []byte
	for range count {
		out = append(out, clientFrame(frameSpec{op: ws.OpText, fin: true, payload: payload})...)
	}
	return out
}

func benchmarkReader(b *testing.B, count, size int) {
	orig := maskedStream(count, size)
	buf := make([]byte, len(orig))
	b.ReportAllocs()
	b.SetBytes(int64(len(orig)))
	var r Reader
	for b.Loop() {
		copy(buf, orig) // Next unmasks in place; start each round from masked bytes
		r.Reset(nil)
		p := buf
		for len(p) > 0 {
			_, n, err := r.Next(p)
			if err != nil || n == 0 {
				b.Fatalf("n=%d err=%v", n, err)
			}
			p = p[n:]
		}
	}
}

func BenchmarkReaderSmallText(b *testing.B) { benchmarkReader(b, 1000, 32) }
func BenchmarkReader64KiB(b *testing.B)     { benchmarkReader(b, 1, 64<<10) }
