package protocol

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

func TestInflateRFC7692Examples(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
	}{
		{"compressed Hello (7.2.3.1)", []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}},
		{"stored Hello (7.2.3.3)", []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}},
		{"final block (7.2.3.4)", []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}},
	}
	for _, tc := range cases {
		got, err := Inflate(nil, tc.in, 0)
		if err != nil || string(got) != "Hello" {
			t.Errorf("%s: %q %v", tc.name, got, err)
		}
	}
}

func TestDeflateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	random := make([]byte, 70000)
	for i := range random {
		random[i] = byte(rng.IntN(256))
	}
	inputs := map[string][]byte{
		"empty":      nil,
		"hello":      []byte("Hello"),
		"json":       []byte(`{"type":"message","room":"general","text":"hello hello hello"}`),
		"repetitive": bytes.Repeat([]byte("abcabcabd"), 20000),
		"random":     random,
	}
	for name, in := range inputs {
		z := Deflate([]byte("keep"), in)
		if string(z[:4]) != "keep" {
			t.Fatalf("%s: Deflate clobbered dst", name)
		}
		if bytes.HasSuffix(z, deflateTail[:]) && len(in) > 0 {
			t.Errorf("%s: tail not stripped", name)
		}
		out, err := Inflate([]byte("pre"), z[4:], int64(len(in)))
		if err != nil || string(out[:3]) != "pre" || !bytes.Equal(out[3:], in) {
			t.Fatalf("%s: round trip failed: err=%v len=%d want %d", name, err, len(out)-3, len(in))
		}
		// Interop: gobwas/ws/wsflate reads what we write.
		zf := ws.NewFrame(ws.OpBinary, true, bytes.Clone(z[4:]))
		zf.Header.Rsv = ws.Rsv(true, false, false)
		f, err := wsflate.DecompressFrame(zf)
		if err != nil || !bytes.Equal(f.Payload, in) {
			t.Fatalf("%s: wsflate cannot read our output: %v", name, err)
		}
		// And we read what wsflate writes.
		cf, err := wsflate.CompressFrame(ws.NewFrame(ws.OpBinary, true, bytes.Clone(in)))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := Inflate(nil, cf.Payload, 0); err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%s: cannot read wsflate output: %v", name, err)
		}
	}
}

func TestInflateLimits(t *testing.T) {
	bomb := Deflate(nil, make([]byte, 10<<20)) // 10 MiB of zeros, ~10 KB on the wire
	out, err := Inflate(make([]byte, 0, 16), bomb, 1<<20)
	if CloseCodeFor(err) != ws.StatusMessageTooBig {
		t.Fatalf("bomb: err=%v, want 1009", err)
	}
	if cap(out) > 3<<20 {
		t.Fatalf("bomb made Inflate grow its buffer to %d bytes", cap(out))
	}
	exact := Deflate(nil, bytes.Repeat([]byte("x"), 1000))
	if _, err := Inflate(nil, exact, 1000); err != nil {
		t.Fatalf("exactly the limit: %v", err)
	}
	if _, err := Inflate(nil, exact, 999); CloseCodeFor(err) != 1009 {
		t.Fatalf("one over the limit: %v", err)
	}
}

func TestInflateCorrupt(t *testing.T) {
	for _, in := range [][]byte{{0xff, 0xff, 0xff}, {0x07}, {0xf2, 0x48, 0xcd, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x00}} {
		if _, err := Inflate(nil, in, 0); CloseCodeFor(err) != ws.StatusInvalidFramePayloadData {
			t.Errorf("%x: err=%v, want 1007", in, err)
		}
	}
}

// TestCompressedMessageThroughReader is the engine's path: RSV1 frames are
// streamed by the Reader, reassembled, inflated, then UTF-8-checked.
func TestCompressedMessageThroughReader(t *testing.T) {
	msg := []byte("caf\u00e9 caf\u00e9 caf\u00e9 caf\u00e9")
	z := Deflate(nil, msg)
	stream := concat(
		clientFrame(frameSpec{op: ws.OpText, rsv: 4, payload: z[:3]}),
		clientFrame(frameSpec{op: ws.OpContinuation, fin: true, payload: z[3:]}),
	)
	got := drive(t, &FrameConfig{Compression: true}, stream, nil)
	if got.err != 0 || len(got.events) != 1 {
		t.Fatalf("%+v", got)
	}
	var r Reader
	r.Reset(&FrameConfig{Compression: true})
	var whole []byte
	for p := stream; len(p) > 0; {
		ev, n, err := r.Next(p)
		if err != nil || !ev.Compressed && ev.Kind == EventData {
			t.Fatalf("ev=%+v err=%v", ev, err)
		}
		whole = append(whole, ev.Payload...)
		p = p[n:]
	}
	out, err := Inflate(nil, whole, 0)
	if err != nil || !bytes.Equal(out, msg) || !ValidUTF8(out) {
		t.Fatalf("inflate: %q %v", out, err)
	}
}

func TestDeflateDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	msg := []byte(`{"type":"message","room":"general","text":"hello hello hello hello"}`)
	z := Deflate(nil, msg)
	zdst := make([]byte, 0, 4096)
	idst := make([]byte, 0, 4096)
	if a := testing.AllocsPerRun(200, func() { Deflate(zdst, msg) }); a != 0 {
		t.Errorf("Deflate: %v allocs", a)
	}
	if a := testing.AllocsPerRun(200, func() { _, _ = Inflate(idst, z, 0) }); a != 0 {
		t.Errorf("Inflate: %v allocs", a)
	}
}

// heapCost returns the bytes allocated by fn.
func heapCost(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// BenchmarkDeflate compresses one chat message per op and reports what one
// pooled flate writer and reader cost while in use (writer-bytes,
// reader-bytes). An idle connection holds neither.
func BenchmarkDeflate(b *testing.B) {
	var sink any
	wbytes := heapCost(func() { sink, _ = flate.NewWriter(io.Discard, deflateLevel) })
	rbytes := heapCost(func() { sink = flate.NewReader(bytes.NewReader(nil)) })
	_ = sink
	msg := bytes.Repeat([]byte(`{"type":"message","room":"general","text":"hello"} `), 20)
	dst := make([]byte, 0, 4096)
	dst = Deflate(dst, msg) // warm the pool: its first writer is the cost reported above
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		dst = Deflate(dst[:0], msg)
	}
	b.ReportMetric(float64(wbytes), "writer-bytes")
	b.ReportMetric(float64(rbytes), "reader-bytes")
}

func BenchmarkInflate(b *testing.B) {
	msg := bytes.Repeat([]byte(`{"type":"message","room":"general","text":"hello"} `), 20)
	z := Deflate(nil, msg)
	dst, _ := Inflate(make([]byte, 0, 4096), z, 0) // warm the pool
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		var err error
		if dst, err = Inflate(dst[:0], z, 0); err != nil {
			b.Fatal(err)
		}
	}
}
