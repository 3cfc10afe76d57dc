package wsframe

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

func TestClientFrameReadsBackWithGobwas(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 1024, 65535, 65536, 200_000} {
		payload := make([]byte, size)
		_, _ = rand.Read(payload)
		f := AppendClientFrame(nil, OpBinary, payload)
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
		h, ok, bad := ParseHeader(f, 16<<20)
		if !ok || bad || h.Length != size || !h.Masked || h.HdrSize+size != len(f) {
			t.Fatalf("size %d: ParseHeader = %+v ok=%v bad=%v", size, h, ok, bad)
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
		want   Header
		maxLen int
	}{
		{"empty", nil, false, false, Header{}, 16 << 20},
		{"one byte", []byte{0x82}, false, false, Header{}, 16 << 20},
		{"small binary", frame(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 64}), true, false,
			Header{Fin: true, Op: OpBinary, Length: 64, HdrSize: 2}, 16 << 20},
		{"16-bit length", frame(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1024}), true, false,
			Header{Fin: true, Op: OpBinary, Length: 1024, HdrSize: 4}, 16 << 20},
		{"16-bit length cut", frame(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1024})[:3], false, false, Header{}, 16 << 20},
		{"64-bit length", frame(ws.Header{OpCode: ws.OpContinuation, Length: 70000}), true, false,
			Header{Op: OpContinuation, Length: 70000, HdrSize: 10}, 16 << 20},
		{"masked ping", frame(ws.Header{Fin: true, OpCode: ws.OpPing, Length: 4, Masked: true, Mask: [4]byte{1, 2, 3, 4}}), true, false,
			Header{Fin: true, Op: OpPing, Length: 4, Masked: true, Mask: [4]byte{1, 2, 3, 4}, HdrSize: 6}, 16 << 20},
		{"mask cut", frame(ws.Header{Fin: true, OpCode: ws.OpPing, Length: 4, Masked: true})[:4], false, false, Header{}, 16 << 20},
		{"over the limit", frame(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 5000}), true, true, Header{}, 4096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, ok, bad := ParseHeader(tc.in, tc.maxLen)
			if ok != tc.ok || bad != tc.bad {
				t.Fatalf("ok=%v bad=%v, want %v %v", ok, bad, tc.ok, tc.bad)
			}
			if ok && !bad && h != tc.want {
				t.Fatalf("got %+v, want %+v", h, tc.want)
			}
		})
	}
}

func TestClientFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 5, 125, 126, 70000} {
		payload := []byte(strings.Repeat("x", n))
		f := AppendClientFrame(nil, OpText, payload)
		h, ok, bad := ParseHeader(f, 1<<20)
		if !ok || bad || !h.Fin || h.Op != OpText || !h.Masked || h.Length != n || h.HdrSize+n != len(f) {
			t.Fatalf("n=%d: header %+v ok=%v bad=%v, frame %d bytes", n, h, ok, bad, len(f))
		}
		p := f[h.HdrSize:]
		for i := range p {
			p[i] ^= h.Mask[i%4]
		}
		if string(p) != string(payload) {
			t.Fatalf("n=%d: payload does not unmask", n)
		}
		if _, ok, _ := ParseHeader(f[:h.HdrSize-1], 1<<20); ok {
			t.Fatalf("n=%d: a cut header parsed", n)
		}
	}
	if _, _, bad := ParseHeader(AppendClientFrame(nil, OpBinary, make([]byte, 200)), 100); !bad {
		t.Fatal("a frame over the limit was not reported")
	}
}
