package auth

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/switchboard-chat/switchboard/protocol"
)

// request builds a Request with the three token-bearing fields; an empty
// string leaves a field nil (header absent).
func request(auth, protocols, query string) *protocol.Request {
	r := &protocol.Request{}
	if auth != "" {
		r.Authorization = []byte(auth)
	}
	if protocols != "" {
		r.Protocols = []byte(protocols)
	}
	if query != "" {
		r.Query = []byte(query)
	}
	return r
}

func TestTokenFromRequest(t *testing.T) {
	tests := []struct {
		name                   string
		auth, protocols, query string
		token, source          string
	}{
		{"nothing", "", "", "", "", ""},

		{"bearer", "Bearer a.b.c", "", "", "a.b.c", SourceHeader},
		{"bearer lower case", "bearer a.b.c", "", "", "a.b.c", SourceHeader},
		{"bearer upper case, tab, spaces", "BEARER\t  a.b.c", "", "", "a.b.c", SourceHeader},
		{"bearer without token", "Bearer", "", "", "", ""},
		{"bearer glued to token", "Bearera.b.c", "", "", "", ""},
		{"basic is ignored", "Basic YWxpY2U6cHc=", "", "", "", ""},

		{"subprotocol", "", "switchboard.v1, bearer.a.b.c", "", "a.b.c", SourceSubprotocol},
		{"subprotocol token first", "", "bearer.a.b.c,switchboard.v1", "", "a.b.c", SourceSubprotocol},
		{"subprotocol among others", "", "chat, switchboard.v1 , bearer.a.b.c , other", "", "a.b.c", SourceSubprotocol},
		{"subprotocol first bearer wins", "", "switchboard.v1, bearer.one, bearer.two", "", "one", SourceSubprotocol},
		{"subprotocol without switchboard.v1", "", "bearer.a.b.c", "", "", ""},
		{"subprotocol with another version", "", "switchboard.v2, bearer.a.b.c", "", "", ""},
		{"subprotocol empty bearer", "", "switchboard.v1, bearer.", "", "", ""},
		{"subprotocol prefix is case-sensitive", "", "switchboard.v1, Bearer.a.b.c", "", "", ""},

		{"query", "", "", "token=a.b.c", "a.b.c", SourceQuery},
		{"query among others", "", "", "room=x&token=a.b.c&z=1", "a.b.c", SourceQuery},
		{"query percent-encoded", "", "", "token=a%2Eb%2ec%5F", "a.b.c_", SourceQuery},
		{"query plus is space", "", "", "token=a+b", "a b", SourceQuery},
		{"query encoded key", "", "", "%74oken=a.b.c", "a.b.c", SourceQuery},
		{"query bad escape kept raw", "", "", "token=a.b%2", "a.b%2", SourceQuery},
		{"query bad hex kept raw", "", "", "token=a%zz", "a%zz", SourceQuery},
		{"query first token wins", "", "", "token=one&token=two", "one", SourceQuery},
		{"query empty value", "", "", "token=&x=1", "", ""},
		{"query key only", "", "", "token", "", ""},
		{"query other key", "", "", "tokens=a.b.c&xtoken=d", "", ""},
		{"query bad key escape", "", "", "%7=a&token=b", "b", SourceQuery},

		{"header beats subprotocol and query", "Bearer h", "switchboard.v1, bearer.s", "token=q", "h", SourceHeader},
		{"subprotocol beats query", "", "switchboard.v1, bearer.s", "token=q", "s", SourceSubprotocol},
		{"basic header falls through to query", "Basic x", "", "token=q", "q", SourceQuery},
		{"bare subprotocol falls through to query", "", "bearer.s", "token=q", "q", SourceQuery},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, src := TokenFromRequest(request(tc.auth, tc.protocols, tc.query))
			if string(tok) != tc.token || src != tc.source {
				t.Fatalf("got (%q, %q), want (%q, %q)", tok, src, tc.token, tc.source)
			}
			if (tok == nil) != (src == "") {
				t.Fatalf("token %q with source %q", tok, src)
			}
		})
	}
}

// TestSubprotocolThroughHandshake runs a browser-style upgrade through the
// real handshake parser: the token is found, and the protocol the server
// selects (echoed in the 101) is switchboard.v1, never the token.
func TestSubprotocolThroughHandshake(t *testing.T) {
	v := newTestVerifier(t, Config{Secret: testSecret})
	tok := sign(t, jwt.SigningMethodHS256, testSecret, validClaims())
	raw := "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: " + SubprotocolTokenPrefix + tok + ", " + Subprotocol + "\r\n\r\n"
	cfg := &protocol.HandshakeConfig{Protocols: []string{Subprotocol}}
	var p protocol.HandshakeParser
	p.Reset(cfg)
	buf := []byte(raw)
	if _, err := p.Parse(buf); err != nil {
		t.Fatal(err)
	}
	req := p.Request(buf)
	if herr := protocol.ValidateUpgrade(&req, cfg); herr != nil {
		t.Fatal(herr)
	}
	if req.Protocol != Subprotocol {
		t.Fatalf("selected protocol %q, want %q", req.Protocol, Subprotocol)
	}
	got, src := TokenFromRequest(&req)
	if string(got) != tok || src != SourceSubprotocol {
		t.Fatalf("got (%q, %q)", got, src)
	}
	c, herr := v.Authenticate(&req)
	if herr != nil || c.User != "alice" {
		t.Fatalf("Authenticate: %+v %v", c, herr)
	}
	resp := protocol.AppendAccept(nil, &req)
	if bytes.Contains(resp, []byte(tok)) || !bytes.Contains(resp, []byte("Sec-WebSocket-Protocol: "+Subprotocol+"\r\n")) {
		t.Fatalf("101 response:\n%s", resp)
	}
}

func TestTokenFromRequestAllocs(t *testing.T) {
	reqs := []*protocol.Request{
		request("Bearer a.b.c", "", ""),
		request("", "switchboard.v1, bearer.a.b.c", ""),
		request("", "", "x=1&token=a.b.c"),
		request("", "", ""),
	}
	for _, r := range reqs {
		if n := testing.AllocsPerRun(100, func() { TokenFromRequest(r) }); n != 0 {
			t.Errorf("%+v: %v allocs, want 0", r, n)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	v := newTestVerifier(t, Config{Secret: testSecret})
	good := sign(t, jwt.SigningMethodHS256, testSecret, validClaims())
	expired := sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "exp", testNow.Add(-time.Hour).Unix()))
	forged := sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 40)), validClaims())
	tests := []struct {
		name      string
		req       *protocol.Request
		wantUser  string
		wantBody  string
		challenge string
	}{
		{"header", request("Bearer "+good, "", ""), "alice", "", ""},
		{"subprotocol", request("", "switchboard.v1, bearer."+good, ""), "alice", "", ""},
		{"query", request("", "", "token="+url.QueryEscape(good)), "alice", "", ""},
		{"missing", request("", "", ""), "", "missing bearer token", "WWW-Authenticate: Bearer"},
		{"expired", request("Bearer "+expired, "", ""), "", "token expired", `WWW-Authenticate: Bearer error="invalid_token"`},
		{"bad signature", request("", "", "token="+forged), "", "invalid token signature", `WWW-Authenticate: Bearer error="invalid_token"`},
		{"garbage", request("Bearer secret-looking-garbage", "", ""), "", "malformed token", `WWW-Authenticate: Bearer error="invalid_token"`},
		// A bad header token is not rescued by a good query token: the
		// client meant the first.
		{"bad header, good query", request("Bearer "+forged, "", "token="+good), "", "invalid token signature", `WWW-Authenticate: Bearer error="invalid_token"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, herr := v.Authenticate(tc.req)
			if tc.wantUser != "" {
				if herr != nil || c.User != tc.wantUser {
					t.Fatalf("got %+v, %v; want user %s", c, herr, tc.wantUser)
				}
				return
			}
			if herr == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if herr.Status != 401 || herr.Reason != tc.wantBody || herr.Header != tc.challenge {
				t.Fatalf("answer %+v", herr)
			}
			tok, _ := TokenFromRequest(tc.req)
			wire := protocol.AppendHTTPError(nil, herr)
			for _, part := range bytes.Split(tok, []byte(".")) {
				if len(part) > 3 && bytes.Contains(wire, part) {
					t.Fatalf("answer echoes token content %q:\n%s", part, wire)
				}
			}
			if !bytes.Contains(wire, []byte("\r\n"+tc.challenge+"\r\n")) {
				t.Fatalf("answer lacks the challenge:\n%s", wire)
			}
		})
	}
}

// FuzzTokenFromRequest checks that no header or query value panics the
// extractor, that its result is consistent, and that the query decoding
// agrees with net/url.
func FuzzTokenFromRequest(f *testing.F) {
	f.Add("Bearer a.b.c", "switchboard.v1, bearer.x", "token=q")
	f.Add("bearer\t", "bearer.x,switchboard.v1", "%74oken=a%2E+b&token=c")
	f.Add("", "switchboard.v1,,bearer.", "token=%zz&token=%4")
	f.Add("Basic x", ",", "&&=&token&token=")
	f.Fuzz(func(t *testing.T, auth, protocols, query string) {
		req := &protocol.Request{Authorization: []byte(auth), Protocols: []byte(protocols), Query: []byte(query)}
		tok, src := TokenFromRequest(req)
		switch src {
		case "":
			if tok != nil {
				t.Fatalf("token %q without a source", tok)
			}
		case SourceHeader:
			if len(tok) == 0 || !strings.HasSuffix(auth, string(tok)) {
				t.Fatalf("header token %q not from %q", tok, auth)
			}
		case SourceSubprotocol:
			if len(tok) == 0 || !strings.Contains(protocols, SubprotocolTokenPrefix+string(tok)) {
				t.Fatalf("subprotocol token %q not from %q", tok, protocols)
			}
		case SourceQuery:
			if len(tok) == 0 {
				t.Fatal("empty query token")
			}
		default:
			t.Fatalf("unknown source %q", src)
		}
		if src == SourceHeader || src == SourceSubprotocol {
			return
		}
		values, err := url.ParseQuery(query)
		if err != nil {
			return // net/url refuses some queries (";", bad escapes) we read leniently
		}
		want := ""
		if vs := values["token"]; len(vs) > 0 {
			want = vs[0]
		}
		if string(tok) != want {
			t.Fatalf("query %q: token %q, net/url says %q", query, tok, want)
		}
	})
}
