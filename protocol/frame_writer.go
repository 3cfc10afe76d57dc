package protocol

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// Server frames are never masked (RFC 6455 section 5.1), so a header is 2, 4
// or 10 bytes. All functions here append to dst and allocate only when dst
// lacks capacity.

// maxCloseReason is what fits in a close frame next to the 2-byte code.
const maxCloseReason = 125 - 2

// FrameHeaderSize returns the size of an unmasked frame header for a payload
// of length bytes.
func FrameHeaderSize(length int) int {
	switch {
	case length <= 125:
		return 2
	case length <= 0xffff:
		return 4
	default:
		return 10
	}
}

// AppendFrameHeader appends an unmasked frame header. rsv1 marks the first
// frame of a permessage-deflate compressed message.
func AppendFrameHeader(dst []byte, op ws.OpCode, fin bool, rsv1 bool, length int) []byte {
	b0 := byte(op & 0x0f)
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	switch {
	case length <= 125:
		return append(dst, b0, byte(length))
	case length <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, b0, 126), uint16(length))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(length))
	}
}

// AppendFrame appends a whole unmasked, uncompressed frame.
func AppendFrame(dst []byte, op ws.OpCode, fin bool, payload []byte) []byte {
	dst = AppendFrameHeader(dst, op, fin, false, len(payload))
	return append(dst, payload...)
}

// AppendClose appends a close frame. It never puts a reserved code on the
// wire: code ws.StatusNoStatusRcvd (1005) writes an empty close payload, the
// faithful answer to a peer's empty close; any other invalid code is mapped
// by WireCloseCode. reason is cut to 123 bytes on a UTF-8 boundary.
func AppendClose(dst []byte, code ws.StatusCode, reason string) []byte {
	if code == ws.StatusNoStatusRcvd {
		return append(dst, 0x80|byte(ws.OpClose), 0)
	}
	if len(reason) > maxCloseReason {
		cut := maxCloseReason
		for cut > 0 && reason[cut]&0xc0 == 0x80 { // don't split a code point
			cut--
		}
		reason = reason[:cut]
	}
	dst = append(dst, 0x80|byte(ws.OpClose), byte(2+len(reason)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(WireCloseCode(code)))
	return append(dst, reason...)
}
