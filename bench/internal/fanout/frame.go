package fanout

import (
	"crypto/rand"
	"encoding/binary"
)

// WebSocket opcodes the loop handles (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// frameHeader is a parsed server frame header.
type frameHeader struct {
	fin     bool
	op      byte
	masked  bool
	mask    [4]byte
	length  int // payload bytes
	hdrSize int // bytes before the payload
}

// parseHeader parses the frame header at the start of b. ok is false while
// b does not hold the whole header; bad reports a length over maxLen, so a
// corrupt stream cannot make the loop allocate without bound.
func parseHeader(b []byte, maxLen int) (h frameHeader, ok, bad bool) {
	if len(b) < 2 {
		return h, false, false
	}
	h.fin = b[0]&0x80 != 0
	h.op = b[0] & 0x0F
	h.masked = b[1]&0x80 != 0
	n := uint64(b[1] & 0x7F)
	h.hdrSize = 2
	switch n {
	case 126:
		if len(b) < 4 {
			return h, false, false
		}
		n = uint64(binary.BigEndian.Uint16(b[2:4]))
		h.hdrSize = 4
	case 127:
		if len(b) < 10 {
			return h, false, false
		}
		n = binary.BigEndian.Uint64(b[2:10])
		h.hdrSize = 10
	}
	if h.masked {
		if len(b) < h.hdrSize+4 {
			return h, false, false
		}
		copy(h.mask[:], b[h.hdrSize:h.hdrSize+4])
		h.hdrSize += 4
	}
	if n > uint64(maxLen) {
		return h, true, true
	}
	h.length = int(n)
	return h, true, false
}

// appendClientFrame appends one masked final frame carrying payload to dst
// (clients mask every frame, RFC 6455 §5.3).
func appendClientFrame(dst []byte, op byte, payload []byte) []byte {
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
