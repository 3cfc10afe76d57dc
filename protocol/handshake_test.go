package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

const browserRequest = "GET /ws?token=abc&x=1 HTTP/1.1\r\n" +
	"Host: chat.example.com\r\n" +
	"Connection: keep-alive, Upgrade\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: https://chat.example.com\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n" +
	"\r\n"

const curlRequest = "GET /ws HTTP/1.1\r\n" +
	"Host: localhost:8080\r\n" +
	"User-Agent: curl/8.5.0\r\n" +
	"Accept: */*\r\n" +
	"Connection: Upgrade\r\n" +
	"Upgrade: websocket\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n" +
	"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig\r\n" +
	"\r\n"

// upgradeRequest builds a minimal valid upgrade with header lines changed:
// a line "Name:" (no value) removes that header, others are appended.
func upgradeRequest(requestLine string, edits ...string) string {
	headers := []string{
		"Host: h", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
	}
	for _, e := range edits {
		if name, ok := strings.CutSuffix(e, ":"); ok {
			for i, h := range headers {
				if strings.HasPrefix(h, name+":") {
					headers = append(headers[:i], headers[i+1:]...)
					break
				}
			}
			continue
		}
		headers = append(headers, e)
	}
	if requestLine == "" {
		requestLine = "GET /ws HTTP/1.1"
	}
	return requestLine + "\r\n" + strings.Join(headers, "\r\n") + "\r\n\r\n"
}

// parseResult is everything Parse decided; split feedings must agree.
type parseResult struct {
	n      int
	status int // 0 when the request parsed
	req    string
	failAt int // buffer length at which Parse failed
}

// feed drives a fresh parser over input cut at splits. Each call gets a fresh
// copy of the bytes so far, as if the caller's buffer had been reallocated:
// a parser that kept slices would read stale memory.
func feed(tb testing.TB, cfg *HandshakeConfig, input []byte, splits []int) parseResult {
	tb.Helper()
	var p HandshakeParser
	p.Reset(cfg)
	prev := 0
	for i := 0; i <= len(splits); i++ {
		end := len(input)
		if i < len(splits) {
			end = min(max(splits[i], prev), len(input))
		}
		prev = end
		buf := bytes.Clone(input[:end])
		n, err := p.Parse(buf)
		var herr *HTTPError
		switch {
		case err == nil:
			if n <= 0 || n > len(buf) {
				tb.Fatalf("n=%d out of range (len %d)", n, len(buf))
			}
			if n2, err2 := p.Parse(buf); n2 != n || err2 != nil {
				tb.Fatalf("Parse after completion: %d %v", n2, err2)
			}
			req := p.Request(bytes.Clone(buf))
			return parseResult{n: n, req: formatRequest(&req)}
		case errors.As(err, &herr):
			if n != 0 {
				tb.Fatalf("error with n=%d", n)
			}
			if _, err2 := p.Parse(buf); err2 != err {
				tb.Fatalf("failure is not sticky: %v", err2)
			}
			return parseResult{status: herr.Status, failAt: len(buf)}
		case err != ErrNeedMore:
			tb.Fatalf("unexpected error type %T %v", err, err)
		}
	}
	return parseResult{} // incomplete
}

func formatRequest(r *Request) string {
	inm := ""
	if r.IfNoneMatch != nil {
		inm = fmt.Sprintf(" inm=%q", r.IfNoneMatch)
	}
	return fmt.Sprintf("%q %q %q %q host=%q origin=%q key=%q auth=%q protos=%q up=%v v13=%v proto=%q z=%v http11=%v",
		r.Method, r.Target, r.Path, r.Query, r.Host, r.Origin, r.Key, r.Authorization, r.Protocols,
		r.Upgrade, r.Version13, r.Protocol, r.Compression, r.HTTP11) + inm
}

// parseAllWays checks whole, byte-at-a-time and random-split feeding agree.
func parseAllWays(tb testing.TB, cfg *HandshakeConfig, input []byte) parseResult {
	tb.Helper()
	want := feed(tb, cfg, input, nil)
	every := make([]int, len(input))
	for i := range every {
		every[i] = i + 1
	}
	byteWise := feed(tb, cfg, input, every)
	// Whole feeding sees the limit only once; compare where it failed only
	// for split feedings, which must fail as soon as the limit is passed.
	wantFailAt := byteWise.failAt
	want.failAt = 0
	rng := rand.New(rand.NewPCG(uint64(len(input)), 3))
	for try := range 11 {
		var got parseResult
		if try == 0 {
			got = byteWise
		} else {
			got = feed(tb, cfg, input, randomSplits(rng, len(input)))
		}
		if got.status != 0 && got.failAt < wantFailAt {
			tb.Fatalf("failed at %d bytes, byte-wise feeding failed at %d", got.failAt, wantFailAt)
		}
		got.failAt = 0
		if got != want {
			tb.Fatalf("split feeding differs:\n got %+v\nwant %+v", got, want)
		}
	}
	want.failAt = wantFailAt
	return want
}

func TestHandshakeValid(t *testing.T) {
	cfg := &HandshakeConfig{Protocols: []string{"chat.v2", "chat.v1"}, Compression: true}
	cases := []struct {
		name, in string
		want     string
	}{
		{"browser", browserRequest,
			`"GET" "/ws?token=abc&x=1" "/ws" "token=abc&x=1" host="chat.example.com" origin="https://chat.example.com" key="dGhlIHNhbXBsZSBub25jZQ==" auth="" protos="chat.v1, chat.v2" up=true v13=true proto="chat.v2" z=true http11=true`},
		{"curl", curlRequest,
			`"GET" "/ws" "/ws" "" host="localhost:8080" origin="" key="AQIDBAUGBwgJCgsMDQ4PEA==" auth="Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig" protos="" up=true v13=true proto="" z=false http11=true`},
		{"lowercase names, tabs and spaces around values, split Connection",
			"GET /a? HTTP/1.1\r\nhost:h\r\nupgrade: \tWebSocket \r\nconnection: keep-alive\r\nCONNECTION:\tfoo , UPGRADE\r\nsec-websocket-version: 13\r\nsec-websocket-key:  dGhlIHNhbXBsZSBub25jZQ==\t\r\n\r\n",
			`"GET" "/a?" "/a" "" host="h" origin="" key="dGhlIHNhbXBsZSBub25jZQ==" auth="" protos="" up=true v13=true proto="" z=false http11=true`},
		{"healthz (not an upgrade)", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
			`"GET" "/healthz" "/healthz" "" host="x" origin="" key="" auth="" protos="" up=false v13=false proto="" z=false http11=true`},
		{"HTTP/1.0 parses", "GET / HTTP/1.0\r\n\r\n",
			`"GET" "/" "/" "" host="" origin="" key="" auth="" protos="" up=false v13=false proto="" z=false http11=false`},
		{"page GET with If-None-Match (the first of two lines)",
			"HEAD /app.js HTTP/1.1\r\nHost: x\r\nif-none-match:  W/\"a\", \"b\" \r\nIf-None-Match: \"c\"\r\n\r\n",
			`"HEAD" "/app.js" "/app.js" "" host="x" origin="" key="" auth="" protos="" up=false v13=false proto="" z=false http11=true inm="W/\"a\", \"b\""`},
		{"Content-Length: 0 is no body", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
			`"GET" "/" "/" "" host="x" origin="" key="" auth="" protos="" up=false v13=false proto="" z=false http11=true`},
		{"empty header value is present", "GET / HTTP/1.1\r\nHost:\r\nX-Empty:   \r\n\r\n",
			`"GET" "/" "/" "" host="" origin="" key="" auth="" protos="" up=false v13=false proto="" z=false http11=true`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := parseAllWays(t, cfg, []byte(tc.in))
			if got.status != 0 || got.n != len(tc.in) || got.req != tc.want {
				t.Fatalf("got %+v\nwant req %s", got, tc.want)
			}
		})
	}
}

func TestHandshakeEmptyHostIsPresent(t *testing.T) {
	var p HandshakeParser
	buf := []byte("GET / HTTP/1.1\r\nHost:\r\n\r\n")
	if _, err := p.Parse(buf); err != nil {
		t.Fatal(err)
	}
	if r := p.Request(buf); r.Host == nil || r.Origin != nil {
		t.Fatalf("Host %v (want non-nil empty), Origin %v (want nil)", r.Host, r.Origin)
	}
}

func TestHandshakeParseRejects(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want int
	}{
		{"no version", "GET /\r\n\r\n", 400},
		{"empty target", "GET  HTTP/1.1\r\n\r\n", 400},
		{"double space", "GET  / HTTP/1.1\r\n\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\n\r\n", 400},
		{"bad version", "GET / HTTP/1.1x\r\n\r\n", 400},
		{"lowercase http", "GET / http/1.1\r\n\r\n", 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505},
		{"empty request line", "\r\nGET / HTTP/1.1\r\n\r\n", 400},
		{"control byte in target", "GET /\x01 HTTP/1.1\r\n\r\n", 400},
		{"bare LF request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400},
		{"bare LF header", "GET / HTTP/1.1\r\nHost: x\n\r\n", 400},
		{"bare LF terminator", "GET / HTTP/1.1\r\nHost: x\r\n\n", 400},
		{"obs-fold space", "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", 400},
		{"obs-fold tab", "GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", 400},
		{"empty name", "GET / HTTP/1.1\r\n: x\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", 400},
		{"CR in value", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400},
		{"DEL in value", "GET / HTTP/1.1\r\nX-A: a\x7fb\r\n\r\n", 400},
		{"NUL in name", "GET / HTTP/1.1\r\nX\x00A: a\r\n\r\n", 400},
		{"duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400},
		{"duplicate key", upgradeRequest("", "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA=="), 400},
		{"duplicate Origin", "GET / HTTP/1.1\r\nOrigin: a\r\nOrigin: b\r\n\r\n", 400},
		{"content-length", "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400},
		{"absurd content-length", "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
		{"negative content-length", "GET / HTTP/1.1\r\ncontent-length: -1\r\n\r\n", 400},
		{"transfer-encoding", "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"header over limit", "GET / HTTP/1.1\r\nX-Pad: " + strings.Repeat("a", 9000) + "\r\n\r\n", 431},
		{"no terminator, over limit", "GET / HTTP/1.1\r\nX-Pad: " + strings.Repeat("a", 9000), 431},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseAllWays(t, nil, []byte(tc.in)); got.status != tc.want {
				t.Fatalf("got %+v, want status %d", got, tc.want)
			}
		})
	}
}

func TestHandshakeLimitFailsFast(t *testing.T) {
	cfg := &HandshakeConfig{MaxHeaderBytes: 64}
	in := []byte("GET / HTTP/1.1\r\nX-Pad: " + strings.Repeat("a", 200))
	got := parseAllWays(t, cfg, in)
	if got.status != 431 || got.failAt != 65 {
		t.Fatalf("got %+v, want 431 at 65 bytes", got)
	}
	// Exactly at the limit is fine.
	exact := "GET / HTTP/1.1\r\nX-Pad: " + strings.Repeat("a", 64-27) + "\r\n\r\n"
	if len(exact) != 64 {
		t.Fatalf("test request is %d bytes", len(exact))
	}
	if got := parseAllWays(t, cfg, []byte(exact)); got.n != 64 {
		t.Fatalf("request of exactly the limit: %+v", got)
	}
}

func TestHandshakePipelinedFrame(t *testing.T) {
	frame := text("hi", true)
	in := append([]byte(curlRequest), frame...)
	got := parseAllWays(t, nil, in)
	if got.n != len(curlRequest) {
		t.Fatalf("n = %d, want %d", got.n, len(curlRequest))
	}
	if !bytes.Equal(in[got.n:], frame) {
		t.Fatal("bytes after the request are not the frame")
	}
}

func TestHandshakeIncomplete(t *testing.T) {
	var p HandshakeParser
	for _, in := range []string{"", "GET", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\nHost: x\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r"} {
		p.Reset(nil)
		if n, err := p.Parse([]byte(in)); n != 0 || err != ErrNeedMore {
			t.Fatalf("%q: n=%d err=%v, want ErrNeedMore", in, n, err)
		}
	}
}

func TestValidateUpgrade(t *testing.T) {
	deny := &HandshakeConfig{CheckOrigin: func(o []byte) bool { return string(o) == "https://ok.example" }}
	cases := []struct {
		name   string
		in     string
		cfg    *HandshakeConfig
		status int
		header string
	}{
		{"valid", upgradeRequest(""), nil, 0, ""},
		{"browser", browserRequest, nil, 0, ""},
		{"curl", curlRequest, nil, 0, ""},
		{"POST", upgradeRequest("POST /ws HTTP/1.1"), nil, 405, "Allow: GET"},
		{"lowercase get", upgradeRequest("get /ws HTTP/1.1"), nil, 405, "Allow: GET"},
		{"HTTP/1.0", upgradeRequest("GET /ws HTTP/1.0"), nil, 400, ""},
		{"no Host", upgradeRequest("", "Host:"), nil, 400, ""},
		{"no Upgrade", upgradeRequest("", "Upgrade:"), nil, 426, "Upgrade: websocket"},
		{"Upgrade other", upgradeRequest("", "Upgrade:", "Upgrade: h2c"), nil, 426, "Upgrade: websocket"},
		{"no Connection", upgradeRequest("", "Connection:"), nil, 426, "Upgrade: websocket"},
		{"Connection close", upgradeRequest("", "Connection:", "Connection: close"), nil, 426, "Upgrade: websocket"},
		{"Connection upgraded (not a token match)", upgradeRequest("", "Connection:", "Connection: upgraded"), nil, 426, "Upgrade: websocket"},
		{"no version", upgradeRequest("", "Sec-WebSocket-Version:"), nil, 426, "Sec-WebSocket-Version: 13"},
		{"version 8", upgradeRequest("", "Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8"), nil, 426, "Sec-WebSocket-Version: 13"},
		{"no key", upgradeRequest("", "Sec-WebSocket-Key:"), nil, 400, ""},
		{"key 15 bytes", upgradeRequest("", "Sec-WebSocket-Key:", "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4P"), nil, 400, ""},
		{"key 17 bytes", upgradeRequest("", "Sec-WebSocket-Key:", "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEBE="), nil, 400, ""},
		{"key not base64", upgradeRequest("", "Sec-WebSocket-Key:", "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!=="), nil, 400, ""},
		{"origin denied", upgradeRequest("", "Origin: https://evil.example"), deny, 403, ""},
		{"origin missing denied by hook", upgradeRequest(""), deny, 403, ""},
		{"origin allowed", upgradeRequest("", "Origin: https://ok.example"), deny, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p HandshakeParser
			p.Reset(tc.cfg)
			buf := []byte(tc.in)
			if _, err := p.Parse(buf); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			r := p.Request(buf)
			e := ValidateUpgrade(&r, tc.cfg)
			if tc.status == 0 {
				if e != nil {
					t.Fatalf("unexpected rejection %v", e)
				}
				return
			}
			if e == nil || e.Status != tc.status || e.Header != tc.header {
				t.Fatalf("got %+v, want status %d header %q", e, tc.status, tc.header)
			}
		})
	}
}

func TestSubprotocolSelection(t *testing.T) {
	cfg := &HandshakeConfig{Protocols: []string{"v3", "v2", "v1"}}
	cases := []struct {
		headers []string
		want    string
	}{
		{[]string{"Sec-WebSocket-Protocol: v1, v2"}, "v2"},
		{[]string{"Sec-WebSocket-Protocol: v1,v3,v2"}, "v3"},
		{[]string{"Sec-WebSocket-Protocol: v1", "Sec-WebSocket-Protocol: v2"}, "v2"},
		{[]string{"Sec-WebSocket-Protocol: v9"}, ""},
		{[]string{"Sec-WebSocket-Protocol: V2"}, ""},
		{[]string{"Sec-WebSocket-Protocol: token.eyJ, v1"}, "v1"},
		{nil, ""},
	}
	for _, tc := range cases {
		buf := []byte(upgradeRequest("", tc.headers...))
		var p HandshakeParser
		p.Reset(cfg)
		if _, err := p.Parse(buf); err != nil {
			t.Fatal(err)
		}
		if r := p.Request(buf); r.Protocol != tc.want {
			t.Errorf("%q: selected %q, want %q", tc.headers, r.Protocol, tc.want)
		}
	}
	var p HandshakeParser // no server protocols: never select
	buf := []byte(upgradeRequest("", "Sec-WebSocket-Protocol: v1"))
	if _, err := p.Parse(buf); err != nil || p.Request(buf).Protocol != "" {
		t.Fatalf("selected with no server protocols: %v", err)
	}
}

func TestDeflateNegotiation(t *testing.T) {
	cases := []struct {
		offer string
		want  bool
	}{
		{"permessage-deflate", true},
		{"permessage-deflate; client_max_window_bits", true},
		{`permessage-deflate; client_max_window_bits="12"`, true},
		{"permessage-deflate; client_max_window_bits=8", true},
		{"permessage-deflate; client_max_window_bits=16", false},
		{"permessage-deflate; client_max_window_bits=7", false},
		{"permessage-deflate; server_max_window_bits=15", true},
		{"permessage-deflate; server_max_window_bits=10", false},
		{"permessage-deflate; server_max_window_bits", false},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate", true},
		{"permessage-deflate; server_no_context_takeover; client_no_context_takeover", true},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", false},
		{"permessage-deflate; server_no_context_takeover=1", false},
		{"permessage-deflate; foo", false},
		{"Permessage-Deflate", true},
		{"x-webkit-deflate-frame", false},
		{"foo, permessage-deflate", true},
		{"", false},
	}
	for _, tc := range cases {
		buf := []byte(upgradeRequest("", "Sec-WebSocket-Extensions: "+tc.offer))
		for _, enabled := range []bool{true, false} {
			var p HandshakeParser
			p.Reset(&HandshakeConfig{Compression: enabled})
			if _, err := p.Parse(buf); err != nil {
				t.Fatal(err)
			}
			if got := p.Request(buf).Compression; got != (tc.want && enabled) {
				t.Errorf("%q (enabled=%v): negotiated %v", tc.offer, enabled, got)
			}
		}
	}
}

func FuzzHandshakeParse(f *testing.F) {
	for _, s := range []string{
		browserRequest, curlRequest, upgradeRequest(""), "GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "GET / HTTP/1.1\nHost: x\n\n",
		curlRequest + "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
	} {
		f.Add([]byte(s), uint64(len(s)))
	}
	cfg := &HandshakeConfig{MaxHeaderBytes: 1024, Protocols: []string{"chat.v2", "chat.v1"}, Compression: true}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		want := feed(t, cfg, in, nil)
		rng := rand.New(rand.NewPCG(seed, 5))
		for range 4 {
			got := feed(t, cfg, in, randomSplits(rng, len(in)))
			if got.status != want.status || got.n != want.n || got.req != want.req {
				t.Fatalf("split feeding differs:\n got %+v\nwant %+v", got, want)
			}
		}
		if want.n > 0 {
			var p HandshakeParser
			p.Reset(cfg)
			if _, err := p.Parse(in); err != nil {
				t.Fatal(err)
			}
			r := p.Request(in)
			if ValidateUpgrade(&r, cfg) == nil {
				AppendAccept(nil, &r)
			}
		}
	})
}

func BenchmarkHandshakeParse(b *testing.B) {
	cfg := &HandshakeConfig{Protocols: []string{"chat.v2", "chat.v1"}, Compression: true}
	buf := []byte(browserRequest)
	var p HandshakeParser
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		p.Reset(cfg)
		if _, err := p.Parse(buf); err != nil {
			b.Fatal(err)
		}
		r := p.Request(buf)
		if e := ValidateUpgrade(&r, cfg); e != nil {
			b.Fatal(e)
		}
	}
}
