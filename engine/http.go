package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/switchboard-chat/switchboard/protocol"
)

// HTTPResponse is the answer to a plain HTTP request on the public listener
// (see Engine.HandleHTTP). The engine adds Content-Length and
// Connection: close, and closes the connection once the answer is written:
// there is no keep-alive, so a browser opens one connection per resource.
type HTTPResponse struct {
	// Status is the HTTP status. 0 means 200.
	Status int
	// ContentType is the Content-Type header, e.g. "text/html; charset=utf-8".
	ContentType string
	// CacheControl, when set, is sent as Cache-Control (with a 304 too).
	CacheControl string
	// ETag, when set, is a quoted entity tag (`"v1"` or `W/"v1"`) sent with
	// the answer. A request whose If-None-Match names it (weak comparison)
	// is answered 304 Not Modified, with no body.
	ETag string
	// Header holds extra header lines, separated by CRLF, without the final
	// CRLF.
	Header string
	// Body is only read while the engine writes it, so a handler may hand
	// every request the same shared slice; nobody may change it meanwhile.
	Body []byte
}

// HTTPHandler answers a plain HTTP GET or HEAD request (HEAD gets the same
// headers and no body). It runs on the event loop that owns the connection,
// so it must return at once and never block: no I/O, no lock that slow work
// holds. Serve precomputed bytes, or a snapshot that another goroutine keeps
// current. req and its slices are borrowed for the call only. Handlers run
// concurrently on several loops: they must be safe for concurrent use.
type HTTPHandler func(req *protocol.Request) HTTPResponse

// HandleHTTP serves h at path (exact match, e.g. "/" or "/app.js") for
// plain HTTP requests: GET and HEAD reach h, other methods get 405. A path
// served by Handle cannot also be served here, and /healthz belongs to the
// engine. Call before Start.
func (e *Engine) HandleHTTP(path string, h HTTPHandler) {
	switch {
	case e.started:
		panic("engine: HandleHTTP after Start")
	case e.routes[path] != nil || path == "/healthz":
		panic("engine: HandleHTTP on a path the engine or Handle serves: " + path)
	}
	if e.pages == nil {
		e.pages = map[string]HTTPHandler{}
	}
	e.pages[path] = h
}

// StaticHTTP returns a handler that answers every request with resp, for
// fixed content. When resp.ETag is empty it is set to a strong tag derived
// from the body (SHA-256), so a revalidating browser gets 304 and no body.
// resp.Body must never change afterwards.
func StaticHTTP(resp HTTPResponse) HTTPHandler {
	if resp.ETag == "" {
		sum := sha256.Sum256(resp.Body)
		resp.ETag = `"` + hex.EncodeToString(sum[:12]) + `"`
	}
	return func(*protocol.Request) HTTPResponse { return resp }
}

var errPageMethod = &protocol.HTTPError{Status: 405, Reason: "method not allowed", Header: "Allow: GET, HEAD"}

// serveHTTP answers a request that is not for a WebSocket route: a page
// registered with HandleHTTP, or 404.
func (e *Engine) serveHTTP(c *Conn, req *protocol.Request) {
	h := e.pages[string(req.Path)]
	if h == nil {
		e.handshakeFailed(404)
		e.reply(c, protocol.AppendHTTPResponse(nil, 404, "text/plain; charset=utf-8", "", []byte("not found\n")))
		return
	}
	method := string(req.Method)
	if method != "GET" && method != "HEAD" {
		e.reply(c, protocol.AppendHTTPError(nil, errPageMethod))
		return
	}
	resp := h(req)
	status, body, length := resp.Status, resp.Body, len(resp.Body)
	if status == 0 {
		status = 200
	}
	var extra strings.Builder
	header := func(name, value string) {
		if value != "" {
			if extra.Len() > 0 {
				extra.WriteString("\r\n")
			}
			extra.WriteString(name)
			extra.WriteString(value)
		}
	}
	header("Cache-Control: ", resp.CacheControl)
	header("ETag: ", resp.ETag)
	header("", resp.Header)
	contentType := resp.ContentType
	if resp.ETag != "" && status == 200 && req.IfNoneMatch != nil && etagMatch(req.IfNoneMatch, resp.ETag) {
		status, contentType, length = 304, "", -1
	}
	if method == "HEAD" || status == 304 {
		body = nil
	}
	head := protocol.AppendHTTPHead(make([]byte, 0, 256+extra.Len()), status, contentType, extra.String(), length)
	e.replyBody(c, head, body)
}

// etagMatch reports whether an If-None-Match list names etag by the weak
// comparison RFC 9110 section 13.1.2 asks for (W/ prefixes are ignored);
// "*" names any.
func etagMatch(list []byte, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for len(list) > 0 {
		var item []byte
		item, list, _ = bytes.Cut(list, []byte{','})
		item = bytes.TrimSpace(item)
		if string(item) == "*" || string(bytes.TrimPrefix(item, []byte("W/"))) == want {
			return true
		}
	}
	return false
}
