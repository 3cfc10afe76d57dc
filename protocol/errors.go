package protocol

import (
	"errors"
	"strconv"
)

// ErrNeedMore is returned by HandshakeParser.Parse while the request is not
// yet complete. It is not a failure: append more bytes and call Parse again.
var ErrNeedMore = errors.New("protocol: need more bytes")

// HTTPError is a rejected handshake: the engine answers it with
// AppendHTTPError and closes the connection.
//
// The values returned by this package are shared package-level values so that
// rejecting a request does not allocate; callers must not modify them.
type HTTPError struct {
	Status int    // HTTP status code, e.g. 400
	Reason string // short plain-text body (without the trailing newline)
	// Header holds optional extra header line(s) without the trailing CRLF,
	// e.g. "Sec-WebSocket-Version: 13". Several lines are separated by CRLF.
	Header string
}

// Error implements error.
func (e *HTTPError) Error() string {
	return "protocol: http " + strconv.Itoa(e.Status) + ": " + e.Reason
}

// Handshake rejections. Kept as values so that Parse and ValidateUpgrade
// never allocate, whatever the input.
var (
	errBadRequestLine     = &HTTPError{Status: 400, Reason: "malformed request line"}
	errBadHeaderLine      = &HTTPError{Status: 400, Reason: "malformed header line"}
	errBareLF             = &HTTPError{Status: 400, Reason: "header lines must end in CRLF"}
	errObsFold            = &HTTPError{Status: 400, Reason: "obsolete header line folding"}
	errControlByte        = &HTTPError{Status: 400, Reason: "control byte in header"}
	errDuplicateHost      = &HTTPError{Status: 400, Reason: "duplicate Host header"}
	errDuplicateKey       = &HTTPError{Status: 400, Reason: "duplicate Sec-WebSocket-Key header"}
	errDuplicateOrigin    = &HTTPError{Status: 400, Reason: "duplicate Origin header"}
	errDuplicateAuth      = &HTTPError{Status: 400, Reason: "duplicate Authorization header"}
	errRequestBody        = &HTTPError{Status: 400, Reason: "a request here has no body: no Transfer-Encoding, no Content-Length but 0"}
	errHeaderTooLarge     = &HTTPError{Status: 431, Reason: "request header too large"}
	errVersionUnsupported = &HTTPError{Status: 505, Reason: "HTTP version not supported"}

	errMethodNotAllowed = &HTTPError{Status: 405, Reason: "method not allowed", Header: "Allow: GET"}
	errNeedHTTP11       = &HTTPError{Status: 400, Reason: "WebSocket upgrade requires HTTP/1.1"}
	errMissingHost      = &HTTPError{Status: 400, Reason: "missing Host header"}
	errNotUpgrade       = &HTTPError{Status: 426, Reason: "this is a WebSocket endpoint: send Upgrade: websocket and Connection: Upgrade", Header: "Upgrade: websocket"}
	errBadVersion       = &HTTPError{Status: 426, Reason: "unsupported WebSocket version", Header: "Sec-WebSocket-Version: 13"}
	errBadKey           = &HTTPError{Status: 400, Reason: "missing or malformed Sec-WebSocket-Key"}
	errOriginForbidden  = &HTTPError{Status: 403, Reason: "origin not allowed"}
)
