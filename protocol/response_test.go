package protocol

import (
	"testing"
)

func TestAppendAcceptRFCExample(t *testing.T) {
	// RFC 6455 section 1.3.
	r := Request{Key: []byte("dGhlIHNhbXBsZSBub25jZQ==")}
	got := string(AppendAccept(nil, &r))
	want := "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestAppendAcceptFromParsedRequest(t *testing.T) {
	cfg := &HandshakeConfig{Protocols: []string{"chat.v2"}, Compression: true}
	var p HandshakeParser
	p.Reset(cfg)
	buf := []byte(browserRequest)
	if _, err := p.Parse(buf); err != nil {
		t.Fatal(err)
	}
	r := p.Request(buf)
	got := string(AppendAccept([]byte("prefix|"), &r))
	want := "prefix|HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Sec-WebSocket-Protocol: chat.v2\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestAppendHTTPError(t *testing.T) {
	cases := []struct {
		err  *HTTPError
		want string
	}{
		{errBadVersion, "HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 30\r\n" +
			"Connection: close\r\nSec-WebSocket-Version: 13\r\n\r\nunsupported WebSocket version\n"},
		{errOriginForbidden, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\n" +
			"Connection: close\r\n\r\norigin not allowed\n"},
		{&HTTPError{Status: 599, Reason: "x"}, "HTTP/1.1 599 Unknown Status\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n" +
			"Connection: close\r\n\r\nx\n"},
	}
	for _, tc := range cases {
		if got := string(AppendHTTPError(nil, tc.err)); got != tc.want {
			t.Errorf("got\n%q\nwant\n%q", got, tc.want)
		}
	}
}

func TestAppendHTTPResponse(t *testing.T) {
	got := string(AppendHTTPResponse(nil, 503, "text/plain", "Retry-After: 5", []byte("busy\n")))
	want := "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n" +
		"Connection: close\r\nRetry-After: 5\r\n\r\nbusy\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	got = string(AppendHTTPResponse(nil, 200, "", "", nil))
	want = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestAppendHTTPHead(t *testing.T) {
	got := string(AppendHTTPHead(nil, 200, "text/css", "ETag: \"x\"", 120))
	want := "HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nContent-Length: 120\r\nConnection: close\r\nETag: \"x\"\r\n\r\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	// A 304 carries no Content-Length: it would have to equal the 200's.
	got = string(AppendHTTPHead(nil, 304, "", "ETag: \"x\"", -1))
	want = "HTTP/1.1 304 Not Modified\r\nConnection: close\r\nETag: \"x\"\r\n\r\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestResponsesDoNotAllocate(t *testing.T) {
	r := Request{Key: []byte("dGhlIHNhbXBsZSBub25jZQ=="), Protocol: "chat.v2", Compression: true}
	dst := make([]byte, 0, 512)
	cases := map[string]func(){
		"AppendAccept":       func() { AppendAccept(dst, &r) },
		"AppendHTTPError":    func() { AppendHTTPError(dst, errBadVersion) },
		"AppendHTTPResponse": func() { AppendHTTPResponse(dst, 503, "text/plain", "Retry-After: 5", []byte("busy")) },
		"AppendHTTPHead":     func() { AppendHTTPHead(dst, 304, "", "ETag: \"x\"", -1) },
	}
	for name, fn := range cases {
		if allocs := testing.AllocsPerRun(100, fn); allocs != 0 {
			t.Errorf("%s: %v allocs", name, allocs)
		}
	}
}

func BenchmarkAppendAccept(b *testing.B) {
	r := Request{Key: []byte("dGhlIHNhbXBsZSBub25jZQ=="), Protocol: "chat.v2", Compression: true}
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendAccept(dst[:0], &r)
	}
}
