package protocol

import (
	"compress/flate"
	"errors"
	"io"
	"sync"
)

// permessage-deflate (RFC 7692), always without context takeover in either
// direction: every message is compressed and inflated on its own, so a
// connection keeps no compression state between messages, and the flate
// state (large) is borrowed from a pool only for the duration of one call.

// DeflateExtensionResponse is the Sec-WebSocket-Extensions value the server
// answers with when compression was negotiated.
const DeflateExtensionResponse = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// deflateTail is the empty stored block that ends a sync flush. Senders strip
// it from each message and receivers add it back (RFC 7692 section 7.2).
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// acceptDeflateOffer reports whether a Sec-WebSocket-Extensions header value
// holds a permessage-deflate offer we can honour. We compress with a full
// 32 KiB window (compress/flate has no other), so an offer that limits
// server_max_window_bits below 15 is declined (the handshake goes on without
// compression). client_max_window_bits is fine in any form: inflating with a
// 32 KiB window reads any smaller window. Unknown or repeated parameters
// decline that offer, as RFC 7692 section 5 asks. Values are not expected to
// contain ',' or ';' inside quotes; such an offer is simply declined.
func acceptDeflateOffer(value []byte) bool {
	for len(value) > 0 {
		var offer []byte
		offer, value = nextListItem(value, ',')
		name, params := nextListItem(offer, ';')
		if equalFold(name, "permessage-deflate") && deflateParamsOK(params) {
			return true
		}
	}
	return false
}

func deflateParamsOK(params []byte) bool {
	var seen uint8
	for len(params) > 0 {
		var param []byte
		param, params = nextListItem(params, ';')
		name, val, hasVal := cutParam(param)
		var bit uint8
		switch {
		case equalFold(name, "server_no_context_takeover"):
			bit = 1
			if hasVal {
				return false
			}
		case equalFold(name, "client_no_context_takeover"):
			bit = 2
			if hasVal {
				return false
			}
		case equalFold(name, "server_max_window_bits"):
			bit = 4
			if !hasVal || windowBits(val) != 15 {
				return false
			}
		case equalFold(name, "client_max_window_bits"):
			bit = 8
			if hasVal && windowBits(val) == 0 {
				return false
			}
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	return true
}

// cutParam splits `name[=value]`, trimming spaces and one pair of quotes.
func cutParam(param []byte) (name, val []byte, hasVal bool) {
	name, val = nextListItem(param, '=')
	hasVal = val != nil // nextListItem returns a nil rest only when there is no '='
	if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
		val = val[1 : len(val)-1]
	}
	return name, val, hasVal
}

// windowBits parses a window size 8..15, or returns 0.
func windowBits(v []byte) int {
	switch {
	case len(v) == 1 && v[0] >= '8' && v[0] <= '9':
		return int(v[0] - '0')
	case len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5':
		return 10 + int(v[1]-'0')
	}
	return 0
}

// inflater is a pooled flate reader with its source, so Inflate allocates
// nothing once warm.
type inflater struct {
	fr  io.ReadCloser
	src tailReader
}

// tailReader yields a message followed by deflateTail. It implements
// io.ByteReader so that flate reads it directly instead of wrapping it in a
// bufio.Reader.
type tailReader struct {
	msg  []byte
	tail int // bytes of deflateTail already read
}

func (t *tailReader) ReadByte() (byte, error) {
	if len(t.msg) > 0 {
		c := t.msg[0]
		t.msg = t.msg[1:]
		return c, nil
	}
	if t.tail < len(deflateTail) {
		t.tail++
		return deflateTail[t.tail-1], nil
	}
	return 0, io.EOF
}

func (t *tailReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(t.msg) > 0 {
		n := copy(p, t.msg)
		t.msg = t.msg[n:]
		return n, nil
	}
	if t.tail < len(deflateTail) {
		n := copy(p, deflateTail[t.tail:])
		t.tail += n
		return n, nil
	}
	return 0, io.EOF
}

func (t *tailReader) exhausted() bool { return len(t.msg) == 0 && t.tail == len(deflateTail) }

var inflaterPool = sync.Pool{New: func() any {
	inf := &inflater{}
	inf.fr = flate.NewReader(&inf.src)
	return inf
}}

// Inflate appends the decompressed form of one permessage-deflate message
// (all its frames' payloads concatenated) to dst. It fails with a 1009
// *CloseError as soon as the output passes limit bytes (limit <= 0 means
// 1 MiB), so a small "deflate bomb" cannot make it allocate more than about
// limit, and with 1007 on corrupt data. The output is not UTF-8-checked.
//
// Allocates only when dst lacks capacity.
func Inflate(dst, src []byte, limit int64) ([]byte, error) {
	limit = limitOr(limit)
	inf := inflaterPool.Get().(*inflater)
	defer inflaterPool.Put(inf)
	inf.src = tailReader{msg: src}
	if err := inf.fr.(flate.Resetter).Reset(&inf.src, nil); err != nil {
		return dst, errInflateCorrupt
	}
	start := len(dst)
	for {
		// Read at most one byte past the limit: enough to detect a bomb.
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		end := min(int64(cap(dst)), int64(start)+limit+1)
		n, err := inf.fr.Read(dst[len(dst):end])
		dst = dst[:len(dst)+n]
		if int64(len(dst)-start) > limit {
			return dst[:start], errInflateTooBig
		}
		switch {
		case err == nil:
		case err == io.EOF:
			return dst, nil
		case errors.Is(err, io.ErrUnexpectedEOF) && inf.src.exhausted():
			// The normal end: the sync-flush tail ends a block but not the
			// stream, so flate asks for more input than there is.
			return dst, nil
		default:
			return dst[:start], errInflateCorrupt
		}
	}
}

// deflater is a pooled flate writer that appends to a caller's slice.
type deflater struct {
	fw  *flate.Writer
	out appendWriter
}

type appendWriter struct{ buf []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// deflateLevel trades ratio for speed: chat messages are short and many.
const deflateLevel = flate.BestSpeed

var deflaterPool = sync.Pool{New: func() any {
	d := &deflater{}
	d.fw, _ = flate.NewWriter(&d.out, deflateLevel) // only fails on a bad level
	return d
}}

// Deflate appends the permessage-deflate form of one message to dst: the
// payload to send in frames whose first has RSV1 set. Allocates only when
// dst lacks capacity.
func Deflate(dst, src []byte) []byte {
	d := deflaterPool.Get().(*deflater)
	d.out.buf = dst
	d.fw.Reset(&d.out)
	_, _ = d.fw.Write(src) // appendWriter never fails
	_ = d.fw.Flush()
	out := d.out.buf
	d.out.buf = nil // the pool must not keep the caller's buffer alive
	deflaterPool.Put(d)
	// A sync flush always ends with the tail; strip it.
	return out[:len(out)-len(deflateTail)]
}
