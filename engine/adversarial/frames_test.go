package adversarial

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/protocol"
	"github.com/switchboard-chat/switchboard/room"
)

// frameLimit is MaxFrameBytes and MaxMessageBytes in the frame tests.
const frameLimit = 32 << 10

func frameTarget(t *testing.T, backend string, compression bool) *target {
	return startTarget(t, backend, func(e *engine.Config, _ *room.Config) {
		e.MaxFrameBytes, e.MaxMessageBytes = frameLimit, frameLimit
		e.Compression = compression
		// A client that stops mid-frame is found by the keepalive.
		e.PingInterval, e.PongTimeout, e.TickInterval = 500*time.Millisecond, 500*time.Millisecond, 20*time.Millisecond
	})
}

// violation is bytes sent on an upgraded connection and the close code the
// server must answer with.
type violation struct {
	name  string
	bytes []byte
	code  ws.StatusCode
}

func rfcViolations() []violation {
	text := func(s string) []byte { return frameBytes(true, 0, ws.OpText, []byte(s)) }
	var v []violation
	for _, rsv := range []byte{1, 2, 4, 7} {
		v = append(v, violation{fmt.Sprintf("reserved bits %03b without an extension", rsv),
			frameBytes(true, rsv, ws.OpText, []byte(`{}`)), ws.StatusProtocolError})
	}
	for _, op := range []ws.OpCode{3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf} {
		v = append(v, violation{fmt.Sprintf("reserved opcode %#x", byte(op)),
			frameBytes(true, 0, op, nil), ws.StatusProtocolError})
	}
	for _, op := range []ws.OpCode{ws.OpPing, ws.OpPong, ws.OpClose} {
		v = append(v,
			violation{fmt.Sprintf("fragmented control %v", op), frameBytes(false, 0, op, nil), ws.StatusProtocolError},
			violation{fmt.Sprintf("control %v of 126 bytes", op), frameBytes(true, 0, op, bytes.Repeat([]byte{'a'}, 126)), ws.StatusProtocolError})
	}
	v = append(v,
		violation{"continuation without a message", frameBytes(true, 0, ws.OpContinuation, []byte("x")), ws.StatusProtocolError},
		violation{"new message inside a fragmented one", append(frameBytes(false, 0, ws.OpText, []byte("{")),
			text(`{}`)...), ws.StatusProtocolError},
		violation{"unmasked frame", []byte{0x81, 0x02, '{', '}'}, ws.StatusProtocolError},
		violation{"close with a 1-byte payload", frameBytes(true, 0, ws.OpClose, []byte{0x03}), ws.StatusProtocolError},
		violation{"close reason not UTF-8", frameBytes(true, 0, ws.OpClose, closePayload(1000, "\xff\xfe")), ws.StatusInvalidFramePayloadData},
		violation{"64-bit length with the top bit set", maskedAfter([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1}, nil), ws.StatusProtocolError},
		violation{"64-bit length of 2^40", maskedAfter([]byte{0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0}, nil), ws.StatusMessageTooBig},
		// Refused at the header: the payload is never sent.
		violation{"16-bit length one over the frame limit", maskedAfter(binary.BigEndian.AppendUint16([]byte{0x82, 0xfe}, frameLimit+1), nil), ws.StatusMessageTooBig},
		violation{"text frame just over the limit", frameBytes(true, 0, ws.OpText, bytes.Repeat([]byte{'a'}, frameLimit+1)), ws.StatusMessageTooBig},
		violation{"fragments summing to just over the limit", append(frameBytes(false, 0, ws.OpText, bytes.Repeat([]byte{'a'}, frameLimit/2)),
			frameBytes(true, 0, ws.OpContinuation, bytes.Repeat([]byte{'a'}, frameLimit/2+1))...), ws.StatusMessageTooBig},
		violation{"overlong UTF-8", text("{\"a\":\"\xc0\xaf\"}"), ws.StatusInvalidFramePayloadData},
		violation{"UTF-8 surrogate", text("{\"a\":\"\xed\xa0\x80\"}"), ws.StatusInvalidFramePayloadData},
		violation{"code point past U+10FFFF", text("{\"a\":\"\xf4\x90\x80\x80\"}"), ws.StatusInvalidFramePayloadData},
		violation{"truncated UTF-8 at the end", text("{\"a\":1}\xe2\x82"), ws.StatusInvalidFramePayloadData},
	)
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535} {
		v = append(v, violation{fmt.Sprintf("close code %d", code),
			frameBytes(true, 0, ws.OpClose, closePayload(code, "")), ws.StatusProtocolError})
	}
	return v
}

// TestRFC6455Violations: each violation gets its close code, on both
// backends, with the bystander served throughout.
func TestRFC6455Violations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := frameTarget(t, backend, false)
		tg.attack(t, func(t *testing.T) {
			for _, v := range rfcViolations() {
				t.Run(v.name, func(t *testing.T) {
					wc := tg.open(t, "127.0.0.2", "mallory")
					wc.writeLenient(v.bytes)
					wc.expectClose(v.code)
				})
			}
		})
	})
}

// writeLenient writes in the background, ignoring errors: the server may
// close before taking everything (it refuses an oversized frame at its
// header).
func (wc *wsConn) writeLenient(b []byte) {
	go wc.c.Write(b)
}

// TestUTF8SplitAtEveryByte: text split into two fragments at every byte
// offset: invalid UTF-8 is refused with 1007 wherever the split falls, and
// valid multi-byte text is never refused for where it was split.
func TestUTF8SplitAtEveryByte(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := frameTarget(t, backend, false)
		bad := []byte("{\"a\":\"h\xc3\xa9\xf0\x9f\x98\x80\xed\xa0\x80z\"}")          // é, 😀, then a surrogate
		good := []byte("{\"type\":\"join\",\"room\":\"h\xc3\xa9\xf0\x9f\x98\x80\"}") // a bad room id, valid UTF-8
		tg.attack(t, func(t *testing.T) {
			wc := tg.open(t, "127.0.0.3", "alice")
			for i := 1; i < len(good); i++ {
				wc.write(frameBytes(false, 0, ws.OpText, good[:i]), frameBytes(true, 0, ws.OpContinuation, good[i:]))
				wc.expectError("bad_request") // the room id, not the encoding
			}
			wc.c.Close()
			for i := 1; i < len(bad); i++ {
				m := tg.open(t, "127.0.0.2", "mallory")
				m.write(frameBytes(false, 0, ws.OpText, bad[:i]), frameBytes(true, 0, ws.OpContinuation, bad[i:]))
				m.expectClose(ws.StatusInvalidFramePayloadData)
			}
		})
	})
}

// TestLengthFieldLies: a frame announcing more payload than is ever sent
// leaves the connection waiting for bytes; the keepalive pings it and,
// with no pong, drops it without a close frame. A non-minimal length
// encoding is accepted (RFC 6455 asks it of senders, not receivers).
func TestLengthFieldLies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := frameTarget(t, backend, false)
		tg.attack(t, func(t *testing.T) {
			m := tg.open(t, "127.0.0.2", "mallory")
			hdr := binary.BigEndian.AppendUint16([]byte{0x81, 0xfe}, 1000)
			m.write(maskedAfter(hdr, []byte(`{"type":`))) // 8 of 1000 bytes, then silence
			m.expectEOF()
			if tg.e.Stats().DeadPeers != 1 {
				t.Fatalf("DeadPeers = %d, want 1", tg.e.Stats().DeadPeers)
			}
			// 13 bytes in a 64-bit length field: a valid frame.
			a := tg.open(t, "127.0.0.3", "alice")
			msg := []byte(`{"type":"x"}`)
			long := binary.BigEndian.AppendUint64([]byte{0x81, 0xff}, uint64(len(msg)))
			a.write(maskedAfter(long, msg))
			a.expectError("unknown_type")
			a.c.Close()
		})
	})
}

// TestMessageAtTheLimit: a message of exactly MaxMessageBytes is read and
// answered (here: too_large, as a publish body is capped lower), one byte
// more is refused with 1009 (in rfcViolations).
func TestMessageAtTheLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := frameTarget(t, backend, false)
		tg.attack(t, func(t *testing.T) {
			a := tg.open(t, "127.0.0.3", "alice")
			prefix := `{"type":"publish","room":"r","id":"x","body":"`
			frame := prefix + strings.Repeat("a", frameLimit-len(prefix)-2) + `"}`
			a.send(frame)
			a.expectError("too_large")
			a.c.Close()
		})
	})
}

// TestCompressionAttacks: with permessage-deflate on, a bomb (10 MiB of
// zeros in ~10 KB) is refused with 1009 once inflation passes the message
// limit, a corrupt stream with 1007, RSV1 where it cannot be with 1002;
// ordinary compressed frames still work.
func TestCompressionAttacks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := frameTarget(t, backend, true)
		deflateHdr := "Sec-WebSocket-Extensions: permessage-deflate"
		tg.attack(t, func(t *testing.T) {
			a := tg.open(t, "127.0.0.3", "alice", deflateHdr)
			a.write(frameBytes(true, 4, ws.OpText, protocol.Deflate(nil, []byte(`{"type":"teleport"}`))))
			a.expectError("unknown_type")
			a.c.Close()
			for _, v := range []violation{
				{"bomb", frameBytes(true, 4, ws.OpBinary, protocol.Deflate(nil, make([]byte, 10<<20))), ws.StatusMessageTooBig},
				{"text bomb", frameBytes(true, 4, ws.OpText, protocol.Deflate(nil, bytes.Repeat([]byte("a"), 10<<20))), ws.StatusMessageTooBig},
				{"corrupt deflate", frameBytes(true, 4, ws.OpText, []byte{0xff, 0xff, 0xff}), ws.StatusInvalidFramePayloadData},
				{"invalid UTF-8 inside", frameBytes(true, 4, ws.OpText, protocol.Deflate(nil, []byte("\xff\xfe"))), ws.StatusInvalidFramePayloadData},
				{"RSV1 on a continuation", append(frameBytes(false, 4, ws.OpText, protocol.Deflate(nil, []byte("{"))),
					frameBytes(true, 4, ws.OpContinuation, []byte("}"))...), ws.StatusProtocolError},
				{"RSV1 on a ping", frameBytes(true, 4, ws.OpPing, nil), ws.StatusProtocolError},
				{"RSV2", frameBytes(true, 2, ws.OpText, []byte("{}")), ws.StatusProtocolError},
			} {
				t.Run(v.name, func(t *testing.T) {
					m := tg.open(t, "127.0.0.2", "mallory", deflateHdr)
					m.writeLenient(v.bytes)
					m.expectClose(v.code)
				})
			}
		})
	})
}

// TestPingFlood: a client that reads gets a pong for every ping, payload
// echoed; a client that floods pings and never reads is a slow consumer:
// pongs count against its outbound budget, and it is closed with 4001.
func TestPingFlood(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := frameTarget(t, backend, false)
		tg.attack(t, func(t *testing.T) {
			n := scale(2000, 25_000) // 25,000 pongs of 127 B fit the 4 MiB budget
			a := tg.open(t, "127.0.0.3", "alice")
			var flood []byte
			for i := range n {
				flood = append(flood, frameBytes(true, 0, ws.OpPing, fmt.Appendf(bytes.Repeat([]byte{'p'}, 119), "%06d", i))...)
			}
			go a.c.Write(flood)
			for i := range n {
				h, p, err := a.readFrame()
				if err != nil {
					t.Fatalf("pong %d: %v", i, err)
				}
				if h.OpCode != ws.OpPong || !bytes.HasSuffix(p, fmt.Appendf(nil, "%06d", i)) {
					t.Fatalf("frame %d: %v %q, want the pong for ping %d", i, h.OpCode, p, i)
				}
			}
			a.c.Close()
			t.Logf("%d pings answered in order", n)

			m := tg.open(t, "127.0.0.2", "mallory")
			ping := frameBytes(true, 0, ws.OpPing, bytes.Repeat([]byte{'p'}, 125))
			chunk := bytes.Repeat(ping, (64<<10)/len(ping))
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // up to 64 MiB of pings, never reading a pong
				defer wg.Done()
				for sent := 0; sent < 64<<20 && tg.e.Stats().SlowConsumers == 0; sent += len(chunk) {
					if _, err := m.c.Write(chunk); err != nil {
						return
					}
				}
			}()
			waitFor(t, "ping flooder closed as a slow consumer", func() bool { return tg.e.Stats().SlowConsumers == 1 })
			m.expectClose(protocol.StatusSlowConsumer)
			wg.Wait()
		})
	})
}

// TestCloseFlood: a thousand close frames in one write are answered by one
// close frame, then the connection is closed; the rest is ignored. Many
// connections closing at once change nothing for the bystander.
func TestCloseFlood(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := frameTarget(t, backend, false)
		tg.attack(t, func(t *testing.T) {
			m := tg.open(t, "127.0.0.2", "mallory")
			m.write(bytes.Repeat(frameBytes(true, 0, ws.OpClose, closePayload(4321, "bye")), 1000))
			h, p, err := m.readSkippingPings()
			if err != nil || h.OpCode != ws.OpClose || closeCode(p) != 4321 {
				t.Fatalf("answer to a close flood: %v %q %v, want one close 4321", h.OpCode, p, err)
			}
			if h, p, err := m.readFrame(); err == nil {
				t.Fatalf("after the close answer: %v %q, want the connection closed", h.OpCode, p)
			}
			crowd := scale(100, 2000)
			ips := sourceIPs(20, 8)
			conns := make([]*wsConn, crowd)
			for i := range conns {
				conns[i] = tg.open(t, ips[i%len(ips)], fmt.Sprintf("closer-%d", i))
			}
			for _, wc := range conns {
				wc.write(frameBytes(true, 0, ws.OpClose, closePayload(1000, "")), []byte("\x00trailing garbage"))
			}
			for _, wc := range conns {
				if h, p, err := wc.readSkippingPings(); err != nil || h.OpCode != ws.OpClose || closeCode(p) != 1000 {
					t.Fatalf("close answer: %v %q %v", h.OpCode, p, err)
				}
				wc.expectEOF()
			}
			t.Logf("%d connections closed at once", crowd)
		})
	})
}

// readSkippingPings reads the next frame that is not a keepalive ping
// (a test holding thousands of connections gets pinged meanwhile).
func (wc *wsConn) readSkippingPings() (ws.Header, []byte, error) {
	for {
		h, p, err := wc.readFrame()
		if err != nil || h.OpCode != ws.OpPing {
			return h, p, err
		}
	}
}

// TestEmptyFragmentFlood: a message of a hundred thousand empty fragments
// costs the attacker bandwidth and the server nothing it keeps: the
// message completes and is answered, the heap stays flat.
func TestEmptyFragmentFlood(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := frameTarget(t, backend, false)
		tg.attack(t, func(t *testing.T) {
			m := tg.open(t, "127.0.0.2", "mallory")
			var b []byte
			b = append(b, frameBytes(false, 0, ws.OpText, nil)...)
			empty := frameBytes(false, 0, ws.OpContinuation, nil)
			for range scale(100_000, 1_000_000) {
				b = append(b, empty...)
			}
			b = append(b, frameBytes(true, 0, ws.OpContinuation, []byte(`{"type":"teleport"}`))...)
			go m.c.Write(b)
			m.expectError("unknown_type")
			m.c.Close()
		})
	})
}
