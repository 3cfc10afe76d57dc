package protocol

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// checkUTF8Splits feeds p to a UTF8State split at every position (and at
// every pair of positions for short inputs) and compares with utf8.Valid.
func checkUTF8Splits(tb testing.TB, p []byte) {
	tb.Helper()
	want := utf8.Valid(p)
	if got := ValidUTF8(p); got != want {
		tb.Fatalf("ValidUTF8(%x) = %v, want %v", p, got, want)
	}
	for i := 0; i <= len(p); i++ {
		limitJ := i
		if len(p) <= 16 {
			limitJ = len(p)
		}
		for j := i; j <= limitJ; j++ {
			var s UTF8State
			ok := s.Write(p[:i]) && s.Write(p[i:j]) && s.Write(p[j:]) && s.Complete()
			if ok != want {
				tb.Fatalf("split %d,%d of %x: got %v, want %v", i, j, p, ok, want)
			}
		}
	}
}

func TestUTF8Cases(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want bool
	}{
		{"empty", "", true},
		{"ascii", "hello, world 0123456789", true},
		{"2-byte", "h\u00e9llo", true},
		{"3-byte", "\u20ac and \u4e16\u754c", true},
		{"4-byte", "\U0001F600 smile", true},
		{"max", "\U0010FFFF", true},
		{"min-3-byte", "\u0800", true},
		{"min-4-byte", "\U00010000", true},
		{"before surrogates", "\uD7FF", true},
		{"after surrogates", "\uE000", true},
		{"overlong 2-byte", "\xc0\xaf", false},
		{"overlong C1", "\xc1\xbf", false},
		{"overlong 3-byte", "\xe0\x80\xaf", false},
		{"overlong 3-byte max", "\xe0\x9f\xbf", false},
		{"overlong 4-byte", "\xf0\x80\x80\xaf", false},
		{"overlong 4-byte max", "\xf0\x8f\xbf\xbf", false},
		{"surrogate low", "\xed\xa0\x80", false},
		{"surrogate high", "\xed\xbf\xbf", false},
		{"above max", "\xf4\x90\x80\x80", false},
		{"F5", "\xf5\x80\x80\x80", false},
		{"FF", "\xff", false},
		{"lone continuation", "a\x80b", false},
		{"truncated 2", "\xc3", false},
		{"truncated 3", "\xe2\x82", false},
		{"truncated 4", "\xf0\x9f\x98", false},
		{"lead then ascii", "\xe2a\xac", false},
		{"long ascii then bad", "abcdefghijklmnopqrstuvwxyz\xff", false},
		{"long ascii then good", "abcdefghijklmnopqrstuvwxyz\u00e9abcdefghijk", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidUTF8([]byte(tc.in)); got != tc.want {
				t.Fatalf("ValidUTF8(%q) = %v, want %v", tc.in, got, tc.want)
			}
			checkUTF8Splits(t, []byte(tc.in))
		})
	}
}

func TestUTF8StickyReject(t *testing.T) {
	var s UTF8State
	if s.Write([]byte{0xff}) {
		t.Fatal("0xff accepted")
	}
	if s.Write([]byte("abc")) || s.Complete() {
		t.Fatal("reject state is not sticky")
	}
	s.Reset()
	if !s.Write([]byte("abc")) || !s.Complete() {
		t.Fatal("Reset did not restore the start state")
	}
}

func TestUTF8Random(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0x00, 'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff}
	for range 3000 {
		p := make([]byte, rng.IntN(12))
		for i := range p {
			if rng.IntN(4) == 0 {
				p[i] = byte(rng.IntN(256))
			} else {
				p[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		checkUTF8Splits(t, p)
	}
	// Valid random runes, with ASCII runs long enough for the fast path.
	for range 300 {
		var p []byte
		for range rng.IntN(40) {
			if rng.IntN(2) == 0 {
				p = append(p, "abcdefghij"[:rng.IntN(10)]...)
			}
			r := rune(rng.IntN(0x110000))
			if utf8.ValidRune(r) {
				p = utf8.AppendRune(p, r)
			}
		}
		checkUTF8Splits(t, p)
	}
}

func FuzzUTF8(f *testing.F) {
	for _, s := range []string{"", "abc", "\u00e9", "\xed\xa0\x80", "\xf4\x90\x80\x80", "abcdefgh\xe2\x82\xac", "\xc0\xaf"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) > 64 {
			p = p[:64] // splits are quadratic below 16 bytes, linear above
		}
		checkUTF8Splits(t, p)
	})
}

func BenchmarkUTF8(b *testing.B) {
	inputs := map[string][]byte{
		"ascii-1KiB": []byte(repeat("The quick brown fox jumps over the lazy dog. ", 1024)),
		"mixed-1KiB": []byte(repeat("caf\u00e9 \u4e16\u754c \U0001F600 ok. ", 1024)),
	}
	for name, p := range inputs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				if !ValidUTF8(p) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// repeat returns s repeated up to n bytes, cut on a rune boundary.
func repeat(s string, n int) string {
	var out []byte
	for len(out)+len(s) <= n {
		out = append(out, s...)
	}
	return string(out)
}
