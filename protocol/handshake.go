package protocol

import (
	"bytes"
	"encoding/base64"
	"math"
)

const defaultMaxHeaderBytes = 8192

// HandshakeConfig says what the server accepts during the upgrade. The zero
// value is a valid config. The parser keeps a pointer to it: do not modify it
// while a parser uses it (share one config between all connections).
type HandshakeConfig struct {
	// MaxHeaderBytes limits the request line plus headers (through the blank
	// line); 0 means 8192. Passing it fails with 431 at once, even before the
	// blank line arrives.
	MaxHeaderBytes int
	// Protocols lists the subprotocols the server supports, most preferred
	// first. The first one (in this order) that the client also offers is
	// selected. None means no subprotocol is ever selected.
	Protocols []string
	// CheckOrigin decides whether a browser origin may connect; origin is
	// empty when the client sent no Origin (non-browser clients). nil allows
	// all. false rejects with 403.
	CheckOrigin func(origin []byte) bool
	// Compression negotiates permessage-deflate (RFC 7692) when the client
	// offers it in a form we can honour; see doc.go.
	Compression bool
}

// span is a [start, end) range of the request buffer. Offsets, not slices,
// because the caller may reallocate the buffer between Parse calls.
type span struct{ start, end int32 }

func (s span) in(buf []byte) []byte {
	if s.end == 0 {
		return nil
	}
	return buf[s.start:s.end:s.end]
}

// Parser states.
const (
	stateRequestLine uint8 = iota
	stateHeaders
	stateDone
	stateFailed
)

// Which headers were seen, for duplicate detection.
const (
	seenHost uint8 = 1 << iota
	seenOrigin
	seenKey
	seenAuth
	seenProtocols
	seenIfNoneMatch
)

// HandshakeParser parses one HTTP/1.1 request incrementally. It stores only
// offsets and a few flags, so it can be kept while bytes trickle in and the
// caller's buffer moves. The zero value parses with a zero HandshakeConfig;
// Reset re-arms it for another request. A parser is owned by one goroutine at
// a time.
type HandshakeParser struct {
	cfg       *HandshakeConfig
	err       *HTTPError
	pos       int32 // next byte not yet scanned for '\n'
	lineStart int32
	n         int32 // request length once done
	state     uint8
	seen      uint8
	http11    bool
	upgrade   bool // Upgrade has token websocket
	connUpg   bool // Connection has token upgrade
	version13 bool
	deflate   bool
	proto     int16 // index+1 into cfg.Protocols of the selected subprotocol, 0 = none

	method, target, host, origin, key, auth, protocols, ifNoneMatch span
	query                                                           int32 // offset of '?' in the buffer, 0 = none
}

// Reset re-arms the parser for a new request with cfg (nil means zero config).
func (p *HandshakeParser) Reset(cfg *HandshakeConfig) {
	*p = HandshakeParser{cfg: cfg}
}

var zeroHandshakeConfig HandshakeConfig

func (p *HandshakeParser) config() *HandshakeConfig {
	if p.cfg == nil {
		return &zeroHandshakeConfig
	}
	return p.cfg
}

// Parse scans buf, ALL request bytes received so far (the caller appends new
// bytes to the same logical buffer, which may be reallocated between calls,
// but never drops or changes bytes it passed before).
// Only bytes not scanned before are looked at, so feeding a request one byte
// at a time costs O(length) in total.
//
// When the request is complete through its blank line, Parse returns its
// length n > 0 and a nil error; buf[n:] already belongs to the WebSocket
// stream (a client may pipeline its first frame). While incomplete it returns
// ErrNeedMore. A malformed request returns a *HTTPError, and the parser
// stays failed. Calls after completion return the same result.
//
// Parse checks HTTP syntax only; ValidateUpgrade checks the upgrade. Lines
// must end in CRLF: a bare LF is rejected (400) rather than accepted as RFC
// 7230 allows, so that we never read a request differently from a proxy in
// front of us.
func (p *HandshakeParser) Parse(buf []byte) (n int, err error) {
	switch p.state {
	case stateDone:
		return int(p.n), nil
	case stateFailed:
		return 0, p.err
	}
	limit := p.config().MaxHeaderBytes
	if limit <= 0 {
		limit = defaultMaxHeaderBytes
	}
	limit = min(limit, math.MaxInt32-1)
	for {
		i := bytes.IndexByte(buf[p.pos:], '\n')
		if i < 0 {
			if len(buf) > limit {
				return 0, p.fail(errHeaderTooLarge)
			}
			p.pos = int32(len(buf))
			return 0, ErrNeedMore
		}
		lf := int(p.pos) + i
		if lf+1 > limit {
			return 0, p.fail(errHeaderTooLarge)
		}
		start := int(p.lineStart)
		if lf == start || buf[lf-1] != '\r' {
			return 0, p.fail(errBareLF)
		}
		var herr *HTTPError
		if p.state == stateRequestLine {
			herr = p.requestLine(buf, start, lf-1)
		} else if lf-1 == start {
			p.state = stateDone
			p.n = int32(lf + 1)
			return lf + 1, nil
		} else {
			herr = p.headerLine(buf, start, lf-1)
		}
		if herr != nil {
			return 0, p.fail(herr)
		}
		p.pos = int32(lf + 1)
		p.lineStart = p.pos
	}
}

func (p *HandshakeParser) fail(e *HTTPError) *HTTPError {
	p.state = stateFailed
	p.err = e
	return e
}

// requestLine parses "METHOD SP target SP HTTP/1.x" in buf[start:end].
func (p *HandshakeParser) requestLine(buf []byte, start, end int) *HTTPError {
	line := buf[start:end]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 || !isToken(line[:sp1]) {
		return errBadRequestLine
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return errBadRequestLine
	}
	for _, c := range rest[:sp2] {
		if c <= ' ' || c == 0x7f {
			return errBadRequestLine
		}
	}
	switch version := rest[sp2+1:]; string(version) {
	case "HTTP/1.1":
		p.http11 = true
	case "HTTP/1.0":
	default:
		if len(version) == 8 && string(version[:5]) == "HTTP/" && isDigit(version[5]) &&
			version[6] == '.' && isDigit(version[7]) {
			return errVersionUnsupported
		}
		return errBadRequestLine
	}
	tstart := start + sp1 + 1
	p.method = span{int32(start), int32(start + sp1)}
	p.target = span{int32(tstart), int32(tstart + sp2)}
	if q := bytes.IndexByte(rest[:sp2], '?'); q >= 0 {
		p.query = int32(tstart + q)
	}
	p.state = stateHeaders
	return nil
}

// headerLine parses "name: value" in buf[start:end].
func (p *HandshakeParser) headerLine(buf []byte, start, end int) *HTTPError {
	line := buf[start:end]
	if line[0] == ' ' || line[0] == '\t' {
		return errObsFold
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return errBadHeaderLine
	}
	vs, ve := colon+1, len(line)
	for _, c := range line[vs:] {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return errControlByte
		}
	}
	for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
		vs++
	}
	for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
		ve--
	}
	name, value := line[:colon], line[vs:ve]
	val := span{int32(start + vs), int32(start + ve)}
	switch {
	case equalFold(name, "host"):
		return p.once(&p.host, val, seenHost, errDuplicateHost)
	case equalFold(name, "origin"):
		return p.once(&p.origin, val, seenOrigin, errDuplicateOrigin)
	case equalFold(name, "sec-websocket-key"):
		return p.once(&p.key, val, seenKey, errDuplicateKey)
	case equalFold(name, "authorization"):
		return p.once(&p.auth, val, seenAuth, errDuplicateAuth)
	case equalFold(name, "upgrade"):
		p.upgrade = p.upgrade || hasToken(value, "websocket")
	case equalFold(name, "connection"):
		p.connUpg = p.connUpg || hasToken(value, "upgrade")
	case equalFold(name, "sec-websocket-version"):
		p.version13 = string(value) == "13"
	case equalFold(name, "sec-websocket-protocol"):
		if p.seen&seenProtocols == 0 {
			p.seen |= seenProtocols
			p.protocols = val
		}
		p.selectProtocol(value)
	case equalFold(name, "if-none-match"):
		// Several If-None-Match lines form one list; keeping the first only
		// can miss a 304, never send a wrong one.
		if p.seen&seenIfNoneMatch == 0 {
			p.seen |= seenIfNoneMatch
			p.ifNoneMatch = val
		}
	case equalFold(name, "content-length"):
		// An upgrade has no body. Bytes a proxy would forward as a body we
		// would read as frames (request smuggling), so refuse any length
		// but 0, absurd ones included.
		if string(value) != "0" {
			return errRequestBody
		}
	case equalFold(name, "transfer-encoding"):
		return errRequestBody
	case equalFold(name, "sec-websocket-extensions"):
		if p.config().Compression && !p.deflate {
			p.deflate = acceptDeflateOffer(value)
		}
	}
	return nil
}

// once records a header that may appear only once.
func (p *HandshakeParser) once(dst *span, val span, bit uint8, dup *HTTPError) *HTTPError {
	if p.seen&bit != 0 {
		return dup
	}
	p.seen |= bit
	*dst = val // end > 0 even for an empty value: headers follow the request line
	return nil
}

// selectProtocol keeps the client-offered subprotocol that the server
// prefers most. Subprotocol names compare case-sensitively (RFC 6455 4.1).
func (p *HandshakeParser) selectProtocol(value []byte) {
	protos := p.config().Protocols
	for len(value) > 0 {
		var tok []byte
		tok, value = nextListItem(value, ',')
		for i, want := range protos {
			if i+1 >= int(p.proto) && p.proto != 0 {
				break
			}
			if string(tok) == want {
				p.proto = int16(min(i+1, math.MaxInt16))
				break
			}
		}
	}
}

// Request returns the parsed request. Its slices point into buf, which must
// hold the same bytes as the buffer given to the completing Parse call. It is
// meaningful only after Parse returned n > 0.
func (p *HandshakeParser) Request(buf []byte) Request {
	r := Request{
		Method:        p.method.in(buf),
		Target:        p.target.in(buf),
		Host:          p.host.in(buf),
		Origin:        p.origin.in(buf),
		Key:           p.key.in(buf),
		Authorization: p.auth.in(buf),
		Protocols:     p.protocols.in(buf),
		IfNoneMatch:   p.ifNoneMatch.in(buf),
		Upgrade:       p.upgrade && p.connUpg,
		Version13:     p.version13,
		Compression:   p.deflate,
		HTTP11:        p.http11,
	}
	r.Path = r.Target
	if p.query != 0 {
		r.Path = buf[p.target.start:p.query:p.query]
		r.Query = buf[p.query+1 : p.target.end : p.target.end]
	}
	if p.proto > 0 {
		r.Protocol = p.config().Protocols[p.proto-1]
	}
	return r
}

// Request is a parsed request. The byte slices are borrowed from the buffer
// given to HandshakeParser.Request and are valid only while it is; a header
// that was absent is nil.
type Request struct {
	Method, Target, Path, Query []byte // Target = Path + "?" + Query
	Host, Origin, Key           []byte
	Authorization               []byte
	// Protocols is the raw value of the first Sec-WebSocket-Protocol header
	// (subprotocol selection considers all of them).
	Protocols []byte
	// IfNoneMatch is the raw value of the first If-None-Match header, for
	// plain HTTP GET answers with an ETag.
	IfNoneMatch []byte

	Upgrade     bool   // Upgrade has token websocket and Connection has token upgrade
	Version13   bool   // Sec-WebSocket-Version: 13
	Protocol    string // the selected subprotocol, one of HandshakeConfig.Protocols, or ""
	Compression bool   // permessage-deflate negotiated
	HTTP11      bool
}

// ValidateUpgrade checks that a complete request is a valid WebSocket
// upgrade (RFC 6455 section 4.2.1) that the config accepts. It returns nil or
// the rejection to send.
func ValidateUpgrade(r *Request, cfg *HandshakeConfig) *HTTPError {
	switch {
	case string(r.Method) != "GET":
		return errMethodNotAllowed
	case !r.HTTP11:
		return errNeedHTTP11
	case r.Host == nil:
		return errMissingHost
	case !r.Upgrade:
		return errNotUpgrade
	case !r.Version13:
		return errBadVersion
	case !validKey(r.Key):
		return errBadKey
	}
	if cfg != nil && cfg.CheckOrigin != nil && !cfg.CheckOrigin(r.Origin) {
		return errOriginForbidden
	}
	return nil
}

// validKey reports whether key is the base64 encoding of exactly 16 bytes.
func validKey(key []byte) bool {
	if len(key) != 24 {
		return false
	}
	var raw [18]byte
	n, err := base64.StdEncoding.Strict().Decode(raw[:], key)
	return err == nil && n == 16
}

// tchar per RFC 7230 section 3.2.6.
var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	for _, c := range b {
		if !tokenChar[c] {
			return false
		}
	}
	return len(b) > 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// equalFold compares b with lower, an ASCII lower-case string.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether a comma-separated list holds token (any case).
func hasToken(list []byte, token string) bool {
	for len(list) > 0 {
		var item []byte
		item, list = nextListItem(list, ',')
		if equalFold(item, token) {
			return true
		}
	}
	return false
}

// nextListItem splits the first sep-separated item, trimmed of SP and HT,
// off list.
func nextListItem(list []byte, sep byte) (item, rest []byte) {
	i := bytes.IndexByte(list, sep)
	if i < 0 {
		item, rest = list, nil
	} else {
		item, rest = list[:i], list[i+1:]
	}
	return bytes.Trim(item, " \t"), rest
}
