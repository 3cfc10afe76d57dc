package echo

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

// parseHeader parses the frame header at the start of b. ok is false when b
// does not hold the whole header yet. A length over maxLen is reported as
// bad, so a corrupt stream cannot make the loop allocate gigabytes.
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

// clientFrame builds one masked, final frame (RFC 6455 §5.3: clients mask
// every frame). The mask key is random; the same bytes are sent again and
// again, which the protocol allows and servers cannot tell apart from fresh
// keys.
func clientFrame(op byte, payload []byte) []byte {
	var hdr []byte
	n := len(payload)
	switch {
	case n < 126:
		hdr = []byte{0x80 | op, 0x80 | byte(n)}
	case n <= 0xFFFF:
		hdr = []byte{0x80 | op, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		hdr = make([]byte, 10)
		hdr[0], hdr[1] = 0x80|op, 0x80|127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
	}
	var key [4]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read never fails on Linux
	f := append(hdr, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i%4])
	}
	return f
}

// echoPayload is the message body: random bytes, so that no layer can
// compress or special-case it.
func echoPayload(size int) []byte {
	p := make([]byte, size)
	_, _ = rand.Read(p)
	return p
}
