package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// serverToClient masks a server frame so that our own Reader (which insists
// on client masking) can read it back.
func serverToClient(tb testing.TB, frame []byte) []byte {
	tb.Helper()
	if frame[1]&0x80 != 0 {
		tb.Fatal("server frame is masked")
	}
	hdr := 2
	switch frame[1] & 0x7f {
	case 126:
		hdr = 4
	case 127:
		hdr = 10
	}
	out := append([]byte{}, frame[:hdr]...)
	out[1] |= 0x80
	out = append(out, testMask[:]...)
	start := len(out)
	out = append(out, frame[hdr:]...)
	ws.Cipher(out[start:], testMask, 0)
	return out
}

func TestFrameHeaderSizes(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 1 << 20} {
		h := AppendFrameHeader(nil, ws.OpBinary, true, false, n)
		if len(h) != FrameHeaderSize(n) {
			t.Errorf("length %d: header %d bytes, FrameHeaderSize says %d", n, len(h), FrameHeaderSize(n))
		}
		if want := map[bool]int{true: 2, false: 4}[n <= 125]; n <= 0xffff && len(h) != want {
			t.Errorf("length %d: %d-byte header, want %d", n, len(h), want)
		}
		if n > 0xffff && len(h) != 10 {
			t.Errorf("length %d: %d-byte header, want 10", n, len(h))
		}
	}
	if got := AppendFrameHeader(nil, ws.OpText, false, true, 5); !bytes.Equal(got, []byte{0x41, 5}) {
		t.Fatalf("rsv1 text header: %x", got)
	}
}

func TestAppendFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 5, 125, 126, 300, 0xffff, 0x10000} {
		payload := bytes.Repeat([]byte("z"), n)
		frame := AppendFrame(nil, ws.OpBinary, true, payload)
		if len(frame) != FrameHeaderSize(n)+n {
			t.Fatalf("length %d: frame is %d bytes", n, len(frame))
		}
		got := drive(t, nil, serverToClient(t, frame), nil)
		if got.err != 0 || len(got.events) != 1 || got.events[0] != "msg op=2 z=false "+quote(payload) {
			t.Fatalf("length %d: %+v", n, got)
		}
	}
}

func quote(p []byte) string { return fmt.Sprintf("%q", p) }

func TestAppendClose(t *testing.T) {
	cases := []struct {
		code   ws.StatusCode
		reason string
		want   string // as the Reader reports it
	}{
		{1000, "bye", `close 1000 "bye"`},
		{StatusSlowConsumer, "slow consumer", `close 4001 "slow consumer"`},
		{ws.StatusNoStatusRcvd, "ignored", `close 1005 ""`},
		{ws.StatusAbnormalClosure, "x", `close 1011 "x"`},
		{ws.StatusTLSHandshake, "", `close 1011 ""`},
		{2000, "", `close 1011 ""`},
		{1000, strings.Repeat("a", 200), `close 1000 "` + strings.Repeat("a", 123) + `"`},
		{1000, strings.Repeat("a", 122) + "é", `close 1000 "` + strings.Repeat("a", 122) + `"`},
	}
	for _, tc := range cases {
		frame := AppendClose(nil, tc.code, tc.reason)
		got := drive(t, nil, serverToClient(t, frame), nil)
		if got.err != 0 || len(got.events) != 1 || got.events[0] != tc.want {
			t.Errorf("AppendClose(%d, %q): %+v, want %s", tc.code, tc.reason, got, tc.want)
		}
	}
}

func TestCloseCodes(t *testing.T) {
	for code := ws.StatusCode(0); code < 5100; code++ {
		want := (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
		if ValidWireCloseCode(code) != want {
			t.Fatalf("ValidWireCloseCode(%d) = %v", code, !want)
		}
		if w := WireCloseCode(code); !ValidWireCloseCode(w) || (want && w != code) {
			t.Fatalf("WireCloseCode(%d) = %d", code, w)
		}
	}
	if WireCloseCode(ws.StatusNoStatusRcvd) != ws.StatusNormalClosure {
		t.Fatal("1005 should map to 1000")
	}
	if CloseCodeFor(errMessageTooBig) != 1009 || CloseCodeFor(fmt.Errorf("wrapped: %w", errInvalidUTF8)) != 1007 || CloseCodeFor(errors.New("eof")) != 1011 || CloseCodeFor(nil) != 1011 {
		t.Fatal("CloseCodeFor mapping")
	}
	if CloseCodeFor(&CloseError{Code: 1006}) != 1011 {
		t.Fatal("CloseCodeFor must never return a reserved code")
	}
}

func TestWritersDoNotAllocate(t *testing.T) {
	dst := make([]byte, 0, 1024)
	payload := make([]byte, 512)
	cases := map[string]func(){
		"AppendFrame": func() { AppendFrame(dst, ws.OpText, true, payload) },
		"AppendClose": func() { AppendClose(dst, StatusSlowConsumer, "slow consumer") },
	}
	for name, fn := range cases {
		if allocs := testing.AllocsPerRun(100, fn); allocs != 0 {
			t.Errorf("%s: %v allocs", name, allocs)
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	payload := []byte(`{"type":"message","room":"general","seq":12345,"text":"hello there"}`)
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		dst = AppendFrame(dst[:0], ws.OpText, true, payload)
	}
}
