package echo

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

func TestClientFrameReadsBackWithGobwas(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 1024, 65535, 65536, 200_000} {
		payload := echoPayload(size)
		f := clientFrame(opBinary, payload)
		got, err := ws.ReadFrame(bytes.NewReader(f))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !got.Header.Masked || !got.Header.Fin || got.Header.OpCode != ws.OpBinary {
			t.Fatalf("size %d: header %+v", size, got.Header)
		}
		ws.Cipher(got.Payload, got.Header.Mask, 0)
		if !bytes.Equal(got.Payload, payload) {
			t.Fatalf("size %d: payload differs after unmasking", size)
		}
		// And our own parser agrees on the header.
		h, ok, bad := parseHeader(f, maxEcho)
		if !ok || bad || h.length != size || !h.masked || h.hdrSize+size != len(f) {
			t.Fatalf("size %d: parseHeader = %+v ok=%v bad=%v", size, h, ok, bad)
		}
	}
}

func TestParseHeader(t *testing.T) {
	frame := func(h ws.Header) []byte {
		var b bytes.Buffer
		if err := ws.WriteHeader(&b, h); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	tests := []struct {
		name   string
		in     []byte
		ok     bool
		bad    bool
		want   frameHeader
		maxLen int
	}{
		{"empty", nil, false, false, frameHeader{}, maxEcho},
		{"one byte", []byte{0x82}, false, false, frameHeader{}, maxEcho},
		{"small binary", frame(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 64}), true, false,
			frameHeader{fin: true, op: opBinary, length: 64, hdrSize: 2}, maxEcho},
		{"16-bit length", frame(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1024}), true, false,
			frameHeader{fin: true, op: opBinary, length: 1024, hdrSize: 4}, maxEcho},
		{"16-bit length cut", frame(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1024})[:3], false, false, frameHeader{}, maxEcho},
		{"64-bit length", frame(ws.Header{OpCode: ws.OpContinuation, Length: 70000}), true, false,
			frameHeader{op: opContinuation, length: 70000, hdrSize: 10}, maxEcho},
		{"masked ping", frame(ws.Header{Fin: true, OpCode: ws.OpPing, Length: 4, Masked: true, Mask: [4]byte{1, 2, 3, 4}}), true, false,
			frameHeader{fin: true, op: opPing, length: 4, masked: true, mask: [4]byte{1, 2, 3, 4}, hdrSize: 6}, maxEcho},
		{"mask cut", frame(ws.Header{Fin: true, OpCode: ws.OpPing, Length: 4, Masked: true})[:4], false, false, frameHeader{}, maxEcho},
		{"over the limit", frame(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 5000}), true, true, frameHeader{}, 4096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, ok, bad := parseHeader(tc.in, tc.maxLen)
			if ok != tc.ok || bad != tc.bad {
				t.Fatalf("ok=%v bad=%v, want %v %v", ok, bad, tc.ok, tc.bad)
			}
			if ok && !bad && h != tc.want {
				t.Fatalf("got %+v, want %+v", h, tc.want)
			}
		})
	}
}

func TestSendTimesFIFO(t *testing.T) {
	var c econn
	next := 0 // the index the next pop must return
	pop := func() {
		t.Helper()
		got, ok := c.pop()
		if !ok || got != timeOf(next) {
			t.Fatalf("pop = %v, %v; want %v", got, ok, timeOf(next))
		}
		next++
	}
	for i := range 5000 {
		c.push(timeOf(i))
		if i%3 == 2 {
			// Two pops for every three pushes: a growing backlog that pop
			// must compact without losing order.
			pop()
			pop()
		}
	}
	for c.inflight() > 0 {
		pop()
	}
	if next != 5000 {
		t.Fatalf("popped %d, pushed 5000", next)
	}
	if _, ok := c.pop(); ok {
		t.Fatal("pop of an empty queue succeeded")
	}
}
