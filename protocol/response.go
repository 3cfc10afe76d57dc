package protocol

import (
	"crypto/sha1"
	"encoding/base64"
	"strconv"
)

// websocketGUID is appended to the client's key to derive the accept value
// (RFC 6455 section 1.3).
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AppendAccept appends the 101 response for a request that passed
// ValidateUpgrade: the accept value, and the selected subprotocol and
// extension when there are any. Allocates only when dst lacks capacity.
func AppendAccept(dst []byte, r *Request) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\n"+
		"Upgrade: websocket\r\n"+
		"Connection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "...)
	dst = appendAcceptKey(dst, r.Key)
	dst = append(dst, "\r\n"...)
	if r.Protocol != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = append(dst, r.Protocol...)
		dst = append(dst, "\r\n"...)
	}
	if r.Compression {
		dst = append(dst, "Sec-WebSocket-Extensions: "+DeflateExtensionResponse+"\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// appendAcceptKey appends base64(SHA-1(key + GUID)) using only stack arrays.
func appendAcceptKey(dst, key []byte) []byte {
	var in [64 + len(websocketGUID)]byte
	var sum [sha1.Size]byte
	if len(key) <= 64 {
		n := copy(in[:], key)
		n += copy(in[n:], websocketGUID)
		sum = sha1.Sum(in[:n])
	} else { // never after ValidateUpgrade (keys are 24 bytes); correct anyway
		sum = sha1.Sum(append(append([]byte(nil), key...), websocketGUID...))
	}
	var enc [28]byte // base64 of 20 bytes
	base64.StdEncoding.Encode(enc[:], sum[:])
	return append(dst, enc[:]...)
}

// AppendHTTPError appends the plain-text response that rejects a handshake,
// with Connection: close. Allocates only when dst lacks capacity.
func AppendHTTPError(dst []byte, e *HTTPError) []byte {
	dst = appendHead(dst, e.Status, "text/plain; charset=utf-8", e.Header, len(e.Reason)+1)
	dst = append(dst, e.Reason...)
	return append(dst, '\n')
}

// AppendHTTPResponse appends a plain HTTP/1.1 response with Connection: close,
// for answers the engine serves itself (200 on /healthz, 503 with
// "Retry-After: 5" when over budget, 404). extraHeader is zero or more header
// lines without the trailing CRLF. Allocates only when dst lacks capacity.
func AppendHTTPResponse(dst []byte, status int, contentType string, extraHeader string, body []byte) []byte {
	dst = appendHead(dst, status, contentType, extraHeader, len(body))
	return append(dst, body...)
}

// AppendHTTPHead appends the status line and headers of a response with
// Connection: close, through the blank line; the caller sends the body (if
// any) after it. length is the Content-Length; a negative length leaves
// the header out (a 304 answer). extraHeader is as for AppendHTTPResponse.
// Allocates only when dst lacks capacity.
func AppendHTTPHead(dst []byte, status int, contentType, extraHeader string, length int) []byte {
	return appendHead(dst, status, contentType, extraHeader, length)
}

func appendHead(dst []byte, status int, contentType, extraHeader string, length int) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, statusText(status)...)
	dst = append(dst, "\r\n"...)
	if contentType != "" {
		dst = append(dst, "Content-Type: "...)
		dst = append(dst, contentType...)
		dst = append(dst, "\r\n"...)
	}
	if length >= 0 {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(length), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Connection: close\r\n"...)
	if extraHeader != "" {
		dst = append(dst, extraHeader...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// statusText is the reason phrase for the statuses this server sends; it
// avoids importing net/http into the protocol package.
func statusText(status int) string {
	switch status {
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 204:
		return "No Content"
	case 304:
		return "Not Modified"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 426:
		return "Upgrade Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 503:
		return "Service Unavailable"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Unknown Status" // any phrase is valid HTTP; this one costs no allocation
}
