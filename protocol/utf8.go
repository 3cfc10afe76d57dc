package protocol

import "encoding/binary"

// UTF8State is an incremental UTF-8 validator: feed it a text message in
// arbitrary chunks with Write and ask Complete at the end. The zero value is
// the start state. It is one byte so that it fits in every connection's
// Reader.
//
// It accepts exactly what unicode/utf8.Valid accepts: no overlong forms, no
// surrogates (U+D800-U+DFFF), nothing above U+10FFFF.
type UTF8State uint8

// DFA states. Each non-accepting state says what the next byte must be.
const (
	utf8Accept  UTF8State = iota // between code points
	utf8Need1                    // one continuation byte 80-BF left
	utf8Need2                    // two continuation bytes left
	utf8Need3                    // three continuation bytes left
	utf8AfterE0                  // next A0-BF (no overlong 3-byte), then one more
	utf8AfterED                  // next 80-9F (no surrogates), then one more
	utf8AfterF0                  // next 90-BF (no overlong 4-byte), then two more
	utf8AfterF4                  // next 80-8F (not above U+10FFFF), then two more
	utf8Reject                   // sticky failure
	utf8NumStates
)

// Byte classes: bytes that behave the same in every state.
const (
	clsASCII   = iota // 00-7F
	clsCont1          // 80-8F
	clsCont2          // 90-9F
	clsCont3          // A0-BF
	clsLead2          // C2-DF
	clsE0             // E0
	clsLead3          // E1-EC, EE-EF
	clsED             // ED
	clsF0             // F0
	clsLead4          // F1-F3
	clsF4             // F4
	clsInvalid        // C0, C1, F5-FF
	numClasses
)

var (
	utf8Class      [256]uint8
	utf8Transition [utf8NumStates][numClasses]UTF8State
)

func init() {
	for b := 0; b < 256; b++ {
		var c uint8
		switch {
		case b <= 0x7F:
			c = clsASCII
		case b <= 0x8F:
			c = clsCont1
		case b <= 0x9F:
			c = clsCont2
		case b <= 0xBF:
			c = clsCont3
		case b <= 0xC1:
			c = clsInvalid
		case b <= 0xDF:
			c = clsLead2
		case b == 0xE0:
			c = clsE0
		case b == 0xED:
			c = clsED
		case b <= 0xEF:
			c = clsLead3
		case b == 0xF0:
			c = clsF0
		case b <= 0xF3:
			c = clsLead4
		case b == 0xF4:
			c = clsF4
		default:
			c = clsInvalid
		}
		utf8Class[b] = c
	}
	for s := range utf8Transition {
		for c := range utf8Transition[s] {
			utf8Transition[s][c] = utf8Reject
		}
	}
	t := &utf8Transition
	t[utf8Accept][clsASCII] = utf8Accept
	t[utf8Accept][clsLead2] = utf8Need1
	t[utf8Accept][clsE0] = utf8AfterE0
	t[utf8Accept][clsLead3] = utf8Need2
	t[utf8Accept][clsED] = utf8AfterED
	t[utf8Accept][clsF0] = utf8AfterF0
	t[utf8Accept][clsLead4] = utf8Need3
	t[utf8Accept][clsF4] = utf8AfterF4
	for _, c := range []int{clsCont1, clsCont2, clsCont3} {
		t[utf8Need1][c] = utf8Accept
		t[utf8Need2][c] = utf8Need1
		t[utf8Need3][c] = utf8Need2
	}
	t[utf8AfterE0][clsCont3] = utf8Need1
	t[utf8AfterED][clsCont1] = utf8Need1
	t[utf8AfterED][clsCont2] = utf8Need1
	t[utf8AfterF0][clsCont2] = utf8Need2
	t[utf8AfterF0][clsCont3] = utf8Need2
	t[utf8AfterF4][clsCont1] = utf8Need2
}

// Write feeds p and reports whether everything so far can still be the
// prefix of valid UTF-8. It returns false at the first invalid byte and stays
// false (the state is sticky) until Reset.
func (s *UTF8State) Write(p []byte) bool {
	st := *s
	i := 0
	for i < len(p) {
		if st == utf8Accept {
			// Fast path: skip ASCII 8 bytes at a time; chat text is mostly ASCII.
			for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 == 0 {
				i += 8
			}
			for i < len(p) && p[i] < 0x80 {
				i++
			}
			if i == len(p) {
				break
			}
		}
		st = utf8Transition[st][utf8Class[p[i]]]
		if st == utf8Reject {
			*s = st
			return false
		}
		i++
	}
	*s = st
	return true
}

// Complete reports whether the input so far is valid UTF-8 that ends on a
// code point boundary.
func (s *UTF8State) Complete() bool { return *s == utf8Accept }

// Reset returns the validator to the start state.
func (s *UTF8State) Reset() { *s = utf8Accept }

// ValidUTF8 reports whether p is entirely valid UTF-8.
func ValidUTF8(p []byte) bool {
	var s UTF8State
	return s.Write(p) && s.Complete()
}
