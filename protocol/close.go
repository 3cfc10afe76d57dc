package protocol

import (
	"errors"
	"strconv"

	"github.com/gobwas/ws"
)

// Switchboard-specific close codes, in the private-use range 4000-4999.
const (
	// StatusSlowConsumer closes a connection whose outbound queue passed its
	// byte budget. The client should reconnect and resume each room with
	// join{since: last seen seq}; nothing is lost, the replay fills the gap.
	StatusSlowConsumer ws.StatusCode = 4001

	// StatusIdleTimeout closes a connection that stayed silent (no frames,
	// no pongs) for longer than the configured idle timeout.
	StatusIdleTimeout ws.StatusCode = 4002

	// StatusTokenExpired closes a connection whose credentials expired
	// while it was open. The client should get a fresh token and
	// reconnect, resuming with since.
	StatusTokenExpired ws.StatusCode = 4003
)

// CloseError is a failure that ends a WebSocket connection with a close frame
// carrying Code and Reason. Reason is a constant, at most 123 bytes, so it fits
// a close frame as is.
//
// The values returned by Reader.Next and Inflate are shared package-level
// values (so failing does not allocate); callers must not modify them.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

// Error implements error.
func (e *CloseError) Error() string {
	return "protocol: close " + strconv.Itoa(int(e.Code)) + ": " + e.Reason
}

// CloseCodeFor maps an error to the close code to send: the code of a
// *CloseError (found with errors.As), else 1011 (internal error).
// The result is always valid on the wire.
func CloseCodeFor(err error) ws.StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return WireCloseCode(ce.Code)
	}
	return ws.StatusInternalServerError
}

// ValidWireCloseCode reports whether code may appear in a close frame:
// 1000-1003, 1007-1014 and 3000-4999. 1004, 1005, 1006 and 1015 are reserved
// (RFC 6455 section 7.4.1) and 1016-2999 are unassigned.
func ValidWireCloseCode(code ws.StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// WireCloseCode returns code if it is valid on the wire. Otherwise it maps
// 1005 (no status received) to 1000 (normal closure), since the peer
// closed without complaint, and anything else (1006, 1015, unassigned) to
// 1011 (internal error): a caller that asks for such a code has a bug, and
// the peer should see a failure rather than a clean close.
func WireCloseCode(code ws.StatusCode) ws.StatusCode {
	if ValidWireCloseCode(code) {
		return code
	}
	if code == ws.StatusNoStatusRcvd {
		return ws.StatusNormalClosure
	}
	return ws.StatusInternalServerError
}

// Frame-level failures, one value per cause so the close reason tells the
// peer what it did wrong.
var (
	errReservedBits      = &CloseError{ws.StatusProtocolError, "reserved bits set"}
	errUnmasked          = &CloseError{ws.StatusProtocolError, "client frame not masked"}
	errReservedOpcode    = &CloseError{ws.StatusProtocolError, "reserved opcode"}
	errFragmentedControl = &CloseError{ws.StatusProtocolError, "fragmented control frame"}
	errControlTooLong    = &CloseError{ws.StatusProtocolError, "control frame payload over 125 bytes"}
	errUnexpectedCont    = &CloseError{ws.StatusProtocolError, "continuation frame without a message in progress"}
	errExpectedCont      = &CloseError{ws.StatusProtocolError, "new data frame inside a fragmented message"}
	errBadLength         = &CloseError{ws.StatusProtocolError, "invalid payload length"}
	errCloseOneByte      = &CloseError{ws.StatusProtocolError, "close payload of one byte"}
	errBadCloseCode      = &CloseError{ws.StatusProtocolError, "invalid close code"}
	errFrameTooBig       = &CloseError{ws.StatusMessageTooBig, "frame too large"}
	errMessageTooBig     = &CloseError{ws.StatusMessageTooBig, "message too large"}
	errInvalidUTF8       = &CloseError{ws.StatusInvalidFramePayloadData, "invalid UTF-8 in text message"}
	errInvalidReason     = &CloseError{ws.StatusInvalidFramePayloadData, "invalid UTF-8 in close reason"}
	errInflateTooBig     = &CloseError{ws.StatusMessageTooBig, "inflated message too large"}
	errInflateCorrupt    = &CloseError{ws.StatusInvalidFramePayloadData, "corrupt deflate data"}
)
