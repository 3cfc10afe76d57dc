package auth

import (
	"bytes"

	"github.com/switchboard-chat/switchboard/protocol"
)

// Subprotocol is the application subprotocol a browser offers next to its
// "bearer." token; the server selects it (see the package doc).
const Subprotocol = "switchboard.v1"

// SubprotocolTokenPrefix marks the subprotocol value that carries the token.
const SubprotocolTokenPrefix = "bearer."

// Token sources, as returned by TokenFromRequest.
const (
	SourceHeader      = "header"      // Authorization: Bearer
	SourceSubprotocol = "subprotocol" // Sec-WebSocket-Protocol: switchboard.v1, bearer.<token>
	SourceQuery       = "query"       // ?token=
)

// TokenFromRequest finds the token in an upgrade request: the Authorization
// header, then the Sec-WebSocket-Protocol header, then the "token" query
// parameter (see the package doc for the exact conventions). It returns nil
// and "" when none holds a non-empty token. The token may alias req's
// buffer and is valid only while req is.
func TokenFromRequest(req *protocol.Request) (token []byte, source string) {
	if t := bearerToken(req.Authorization); len(t) > 0 {
		return t, SourceHeader
	}
	if t := subprotocolToken(req.Protocols); len(t) > 0 {
		return t, SourceSubprotocol
	}
	if t := queryToken(req.Query); len(t) > 0 {
		return t, SourceQuery
	}
	return nil, ""
}

// Authenticate finds and verifies the request's token. It is meant for
// engine.App.Accept: a missing or refused token yields a 401 with a
// WWW-Authenticate challenge, whose body depends only on the reason (it
// never holds token content). The *protocol.HTTPError values are shared and
// must not be modified. A caller that counts failures by reason calls
// TokenFromRequest and Verify itself and answers with Unauthorized(err).
func (v *Verifier) Authenticate(req *protocol.Request) (Claims, *protocol.HTTPError) {
	token, _ := TokenFromRequest(req)
	c, err := v.Verify(token)
	if err != nil {
		return Claims{}, Unauthorized(err)
	}
	return c, nil
}

// bearerToken returns the credentials of an "Authorization: Bearer <token>"
// value, or nil for any other scheme. The parser has already trimmed the
// value's ends.
func bearerToken(auth []byte) []byte {
	const scheme = "bearer"
	if len(auth) <= len(scheme) || !equalFold(auth[:len(scheme)], scheme) {
		return nil
	}
	if c := auth[len(scheme)]; c != ' ' && c != '\t' {
		return nil // "Bearerx ..." is another scheme
	}
	return bytes.TrimLeft(auth[len(scheme):], " \t")
}

// subprotocolToken returns the "bearer." value of a Sec-WebSocket-Protocol
// list that also offers Subprotocol, or nil.
func subprotocolToken(list []byte) []byte {
	var token []byte
	offered := false
	for len(list) > 0 {
		var item []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			item, list = list, nil
		}
		item = bytes.Trim(item, " \t")
		switch {
		case string(item) == Subprotocol:
			offered = true
		case token == nil && bytes.HasPrefix(item, []byte(SubprotocolTokenPrefix)):
			token = item[len(SubprotocolTokenPrefix):]
		}
	}
	if !offered {
		return nil
	}
	return token
}

// queryToken returns the form-decoded value of the first "token" parameter
// of a query string, or nil. It allocates only when the value has escapes.
func queryToken(query []byte) []byte {
	for len(query) > 0 {
		var pair []byte
		if i := bytes.IndexByte(query, '&'); i >= 0 {
			pair, query = query[:i], query[i+1:]
		} else {
			pair, query = query, nil
		}
		key, value := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			key, value = pair[:i], pair[i+1:]
		}
		if !formKeyIs(key, "token") {
			continue
		}
		if bytes.IndexByte(value, '%') < 0 && bytes.IndexByte(value, '+') < 0 {
			return value
		}
		if decoded, ok := formDecode(value); ok {
			return decoded
		}
		return value // bad escape: let Verify call it malformed
	}
	return nil
}

// formKeyIs reports whether the form-encoded key decodes to want, without
// allocating.
func formKeyIs(key []byte, want string) bool {
	j := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(key) {
				return false
			}
			h, l := unhex(key[i+1]), unhex(key[i+2])
			if h < 0 || l < 0 {
				return false
			}
			c = byte(h<<4 | l)
			i += 2
		}
		if j >= len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}

// formDecode decodes "%XX" escapes and "+" into a new slice; ok is false on a
// malformed escape.
func formDecode(s []byte) (out []byte, ok bool) {
	out = make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			out = append(out, ' ')
		case '%':
			if i+2 >= len(s) {
				return nil, false
			}
			h, l := unhex(s[i+1]), unhex(s[i+2])
			if h < 0 || l < 0 {
				return nil, false
			}
			out = append(out, byte(h<<4|l))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

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
