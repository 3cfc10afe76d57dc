// Package wsframe is the small client side of the WebSocket framing
// (RFC 6455 §5) that the epoll load loops speak directly on raw sockets.
package wsframe

import (
	"crypto/rand"
	"encoding/binary"
)

// WebSocket opcodes the loops handle (RFC 6455 §5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// Header is a parsed server frame header.
type Header struct {
	Fin     bool
	Op      byte
	Masked  bool
	Mask    [4]byte
	Length  int // payload bytes
	HdrSize int // bytes before the payload
}

// ParseHeader parses the frame header at the start of b. ok is false while
// b does not hold the whole header; bad reports a length over maxLen, so a
// corrupt stream cannot make the loop allocate without bound.
func ParseHeader(b []byte, maxLen int) (h Header, ok, bad bool) {
	if len(b) < 2 {
		return h, false, false
	}
	h.Fin = b[0]&0x80 != 0
	h.Op = b[0] & 0x0F
	h.Masked = b[1]&0x80 != 0
	n := uint64(b[1] & 0x7F)
	h.HdrSize = 2
	switch n {
	case 126:
		if len(b) < 4 {
			return h, false, false
		}
		n = uint64(binary.BigEndian.Uint16(b[2:4]))
		h.HdrSize = 4
	case 127:
		if len(b) < 10 {
			return h, false, false
		}
		n = binary.BigEndian.Uint64(b[2:10])
		h.HdrSize = 10
	}
	if h.Masked {
		if len(b) < h.HdrSize+4 {
			return h, false, false
		}
		copy(h.Mask[:], b[h.HdrSize:h.HdrSize+4])
		h.HdrSize += 4
	}
	if n > uint64(maxLen) {
		return h, true, true
	}
	h.Length = int(n)
	return h, true, false
}

// AppendClientFrame appends one masked final frame carrying payload to dst
// (clients mask every frame, RFC 6455 §5.3). The mask key is random; a
// frame built once may be sent again and again, which the protocol allows
// and servers cannot tell apart from fresh keys.
func AppendClientFrame(dst []byte, op byte, payload []byte) []byte {
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, 0x80|op, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|op, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|op, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var key [4]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read never fails on Linux
	dst = append(dst, key[:]...)
	for i, c := range payload {
		dst = append(dst, c^key[i%4])
	}
	return dst
}
