package protocol

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

const defaultMaxBytes = 1 << 20

// FrameConfig limits what a Reader accepts. Zero values are the defaults.
type FrameConfig struct {
	// MaxFrameBytes is the largest payload one frame may announce; 0 means
	// 1 MiB. A larger header fails with 1009 before any payload arrives.
	MaxFrameBytes int64
	// MaxMessageBytes is the largest sum of a message's frame payloads
	// (on the wire, so compressed size for deflated messages); 0 means 1 MiB.
	// Checked at each frame header, so it fails fast with 1009.
	MaxMessageBytes int64
	// Compression allows RSV1 on the first frame of a data message, as
	// permessage-deflate was negotiated.
	Compression bool
}

// EventKind says what Reader.Next found.
type EventKind uint8

const (
	EventNone  EventKind = iota // nothing to deliver (need more bytes, or a header was consumed)
	EventData                   // a chunk of a text or binary message
	EventPing                   // a complete ping frame
	EventPong                   // a complete pong frame
	EventClose                  // a complete close frame; the Reader ignores input after it
)

// Event is one thing found by Reader.Next. Payload is borrowed from the slice
// given to Next (unmasked in place) and must not be retained after the
// caller releases that buffer; copy what must outlive it.
type Event struct {
	Kind EventKind
	// Op is the message's opcode (OpText or OpBinary) for EventData, also on
	// chunks of continuation frames; the frame's opcode otherwise.
	Op      ws.OpCode
	Payload []byte
	// Fin is set on the EventData chunk that completes the message.
	Fin bool
	// Compressed is set on every chunk of a message sent with RSV1
	// (permessage-deflate). Its payload is deflated and not UTF-8-checked;
	// the caller inflates the whole message and checks it.
	Compressed bool
	// CloseCode is the peer's code for EventClose (ws.StatusNoStatusRcvd
	// when the close payload was empty); Payload is then the reason.
	CloseCode ws.StatusCode
}

// Reader frames the client-to-server byte stream of one connection. It holds
// no buffer: it parses and unmasks in place whatever slice it is given, and
// carries only the state a frame or message spans (about 56 bytes).
//
// A Reader is owned by one goroutine at a time. The zero value is ready with
// default limits; Reset sets other limits and forgets any message in progress.
type Reader struct {
	maxFrame   int64
	maxMessage int64
	remaining  int64 // payload bytes still to come in the current data frame
	msgLen     int64 // wire payload bytes of the current message so far
	err        *CloseError
	mask       [4]byte
	maskPos    uint8     // mask offset (mod 4) of the next payload byte
	msgOp      ws.OpCode // OpText/OpBinary while a message is in progress, else 0
	frameFin   bool      // the current data frame has FIN
	compressed bool      // the current message has RSV1
	allowRSV1  bool
	closed     bool
	utf8       UTF8State
}

// Reset re-arms the Reader with cfg (nil means defaults) and clears all state,
// including a previous failure or close.
func (r *Reader) Reset(cfg *FrameConfig) {
	*r = Reader{}
	if cfg != nil {
		r.maxFrame = cfg.MaxFrameBytes
		r.maxMessage = cfg.MaxMessageBytes
		r.allowRSV1 = cfg.Compression
	}
}

// Closed reports whether a close frame was returned.
func (r *Reader) Closed() bool { return r.closed }

// Next parses from p, the bytes received and not yet consumed, and returns at
// most one event and how many bytes of p it consumed. The caller drops p[:n]
// and calls again, with more bytes appended when n == 0 and Kind == EventNone.
//
// Data frames are streamed: once a header is complete, whatever part of the
// payload p holds is unmasked in place and returned as an EventData chunk, so
// a large message never needs to be buffered whole. A header may also be
// consumed alone (EventNone, n > 0). A zero-length frame with FIN yields an
// empty EventData with Fin set. Control frames are returned only whole (at
// most 131 bytes): until then Next consumes nothing.
//
// Errors are *CloseError; the Reader then stays failed and returns the same
// error. After EventClose the Reader discards input: Next consumes all of p
// and returns EventNone, since RFC 6455 lets nothing follow a close frame.
//
// Non-minimal length encodings (e.g. 5 in a 16-bit length) are accepted: RFC
// 6455 asks senders for the minimal form but does not make receivers reject.
func (r *Reader) Next(p []byte) (ev Event, n int, err error) {
	if r.err != nil {
		return Event{}, 0, r.err
	}
	if r.closed {
		return Event{}, len(p), nil
	}
	var ce *CloseError
	if r.remaining > 0 {
		ev, n, ce = r.payload(p)
	} else {
		ev, n, ce = r.header(p)
	}
	if ce != nil {
		r.err = ce
		return Event{}, 0, ce
	}
	return ev, n, nil
}

func (r *Reader) header(p []byte) (Event, int, *CloseError) {
	if len(p) < 2 {
		return Event{}, 0, nil
	}
	b0, b1 := p[0], p[1]
	fin := b0&0x80 != 0
	rsv1 := b0&0x40 != 0
	op := ws.OpCode(b0 & 0x0f)
	// Everything checkable from the first two bytes fails now, before the
	// rest of the header arrives.
	if b0&0x30 != 0 {
		return Event{}, 0, errReservedBits
	}
	if op.IsReserved() {
		return Event{}, 0, errReservedOpcode
	}
	if b1&0x80 == 0 {
		return Event{}, 0, errUnmasked
	}
	length := int64(b1 & 0x7f)
	if op.IsControl() {
		if rsv1 {
			return Event{}, 0, errReservedBits
		}
		if !fin {
			return Event{}, 0, errFragmentedControl
		}
		if length > 125 {
			return Event{}, 0, errControlTooLong
		}
		total := 6 + int(length)
		if len(p) < total {
			return Event{}, 0, nil
		}
		return r.control(op, p[2:6], p[6:total], total)
	}
	if op == ws.OpContinuation {
		if r.msgOp == 0 {
			return Event{}, 0, errUnexpectedCont
		}
		if rsv1 {
			return Event{}, 0, errReservedBits
		}
	} else {
		if r.msgOp != 0 {
			return Event{}, 0, errExpectedCont
		}
		if rsv1 && !r.allowRSV1 {
			return Event{}, 0, errReservedBits
		}
	}
	hdr := 6
	switch length {
	case 126:
		hdr = 8
	case 127:
		hdr = 14
	}
	if len(p) < hdr {
		return Event{}, 0, nil
	}
	switch length {
	case 126:
		length = int64(binary.BigEndian.Uint16(p[2:]))
	case 127:
		u := binary.BigEndian.Uint64(p[2:])
		if u>>63 != 0 {
			return Event{}, 0, errBadLength
		}
		length = int64(u)
	}
	if length > limitOr(r.maxFrame) {
		return Event{}, 0, errFrameTooBig
	}
	if length > limitOr(r.maxMessage)-r.msgLen {
		return Event{}, 0, errMessageTooBig
	}
	if op != ws.OpContinuation {
		r.msgOp = op
		r.compressed = rsv1
		r.utf8.Reset()
	}
	r.msgLen += length
	r.remaining = length
	r.frameFin = fin
	copy(r.mask[:], p[hdr-4:hdr])
	r.maskPos = 0
	if length == 0 {
		if !fin {
			return Event{}, hdr, nil
		}
		ev := Event{Kind: EventData, Op: r.msgOp, Payload: p[hdr:hdr], Fin: true, Compressed: r.compressed}
		if r.checkText(ev.Payload, true) {
			return Event{}, 0, errInvalidUTF8
		}
		r.endMessage()
		return ev, hdr, nil
	}
	ev, n, err := r.payload(p[hdr:])
	return ev, hdr + n, err
}

// payload streams the available part of the current data frame.
func (r *Reader) payload(p []byte) (Event, int, *CloseError) {
	if len(p) == 0 {
		return Event{}, 0, nil
	}
	chunk := p
	if int64(len(chunk)) > r.remaining {
		chunk = chunk[:r.remaining]
	}
	ws.Cipher(chunk, r.mask, int(r.maskPos))
	r.maskPos = uint8((int(r.maskPos) + len(chunk)) & 3)
	r.remaining -= int64(len(chunk))
	fin := r.remaining == 0 && r.frameFin
	if r.checkText(chunk, fin) {
		return Event{}, 0, errInvalidUTF8
	}
	ev := Event{Kind: EventData, Op: r.msgOp, Payload: chunk, Fin: fin, Compressed: r.compressed}
	if fin {
		r.endMessage()
	}
	return ev, len(chunk), nil
}

// checkText reports whether chunk makes an uncompressed text message
// invalid UTF-8 (a code point may span chunks; at the end it must be whole).
func (r *Reader) checkText(chunk []byte, last bool) (bad bool) {
	if r.msgOp != ws.OpText || r.compressed {
		return false
	}
	if !r.utf8.Write(chunk) {
		return true
	}
	return last && !r.utf8.Complete()
}

func (r *Reader) endMessage() {
	r.msgOp = 0
	r.msgLen = 0
	r.compressed = false
	r.utf8.Reset()
}

func (r *Reader) control(op ws.OpCode, mask, payload []byte, total int) (Event, int, *CloseError) {
	ws.Cipher(payload, [4]byte(mask), 0)
	switch op {
	case ws.OpPing:
		return Event{Kind: EventPing, Op: op, Payload: payload}, total, nil
	case ws.OpPong:
		return Event{Kind: EventPong, Op: op, Payload: payload}, total, nil
	}
	ev := Event{Kind: EventClose, Op: op, CloseCode: ws.StatusNoStatusRcvd, Payload: payload[:0]}
	switch {
	case len(payload) == 1:
		return Event{}, 0, errCloseOneByte
	case len(payload) >= 2:
		ev.CloseCode = ws.StatusCode(binary.BigEndian.Uint16(payload))
		if !ValidWireCloseCode(ev.CloseCode) {
			return Event{}, 0, errBadCloseCode
		}
		ev.Payload = payload[2:]
		if !ValidUTF8(ev.Payload) {
			return Event{}, 0, errInvalidReason
		}
	}
	r.closed = true
	return ev, total, nil
}

func limitOr(v int64) int64 {
	if v <= 0 {
		return defaultMaxBytes
	}
	return v
}
