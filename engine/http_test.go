package engine

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/protocol"
)

// rawHTTP sends one raw request and returns the parsed answer and its body;
// the server must close the connection after it.
func rawHTTP(t *testing.T, e *Engine, request string) (*http.Response, []byte) {
	t.Helper()
	c := rawDial(t, e)
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatalf("write: %v", err)
	}
	r := bufio.NewReader(c)
	method, _, _ := strings.Cut(request, " ")
	resp, err := http.ReadResponse(r, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if rest, err := io.ReadAll(r); err != nil || len(rest) > 0 {
		t.Fatalf("after the answer: %d more bytes, %v (want EOF: the server closes)", len(rest), err)
	}
	return resp, body
}

func TestHandleHTTP(t *testing.T) {
	page := bytes.Repeat([]byte("<p>switchboard</p>\n"), 20000) // 380 KB: more than a socket buffer
	static := StaticHTTP(HTTPResponse{ContentType: "text/html; charset=utf-8", CacheControl: "no-cache", Body: page})
	etag := static(nil).ETag
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngineRoutes(t, backend, nil, func(e *Engine) {
			e.HandleHTTP("/", static)
			e.HandleHTTP("/stats", func(req *protocol.Request) HTTPResponse {
				return HTTPResponse{Status: 202, ContentType: "application/json", Header: "X-A: 1\r\nX-B: 2",
					Body: []byte(`{"q":"` + string(req.Query) + `"}`)}
			})
		})
		cases := []struct {
			name, req string
			status    int
			body      []byte
			header    map[string]string
		}{
			{"GET a static page", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, page,
				map[string]string{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache", "ETag": etag}},
			{"HEAD: headers only", "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", 200, nil,
				map[string]string{"Content-Length": "380000", "ETag": etag}},
			{"If-None-Match hit", "GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"old\", W/" + etag + "\r\n\r\n", 304, nil,
				map[string]string{"ETag": etag, "Cache-Control": "no-cache", "Content-Type": "", "Content-Length": ""}},
			{"If-None-Match star", "GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n", 304, nil, nil},
			{"If-None-Match miss", "GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"old\"\r\n\r\n", 200, page, nil},
			{"query ignored for routing", "GET /?user=al HTTP/1.1\r\nHost: x\r\n\r\n", 200, page, nil},
			{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", 200, page, nil},
			{"POST", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, []byte("method not allowed\n"),
				map[string]string{"Allow": "GET, HEAD"}},
			{"dynamic handler", "GET /stats?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 202, []byte(`{"q":"x=1"}`),
				map[string]string{"X-A": "1", "X-B": "2", "ETag": ""}},
			{"unknown path", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404, []byte("not found\n"), nil},
			{"plain GET on a WebSocket route", "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 426, nil, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := rawHTTP(t, e, tc.req)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
				}
				if tc.body != nil && !bytes.Equal(body, tc.body) {
					t.Fatalf("body %d bytes %.40q, want %d bytes", len(body), body, len(tc.body))
				}
				if tc.body == nil && tc.status != 426 && len(body) > 0 {
					t.Fatalf("body of %d bytes, want none", len(body))
				}
				if !resp.Close {
					t.Fatal("no Connection: close")
				}
				for k, v := range tc.header {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("%s: %q, want %q", k, got, v)
					}
				}
			})
		}
		if st := e.Stats(); st.Conns != 0 {
			t.Fatalf("%d conns after plain HTTP, want 0", st.Conns)
		}
	})
}

func TestHandleHTTPConflicts(t *testing.T) {
	e, err := New(Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	e.Handle("/ws", Echo{})
	e.HandleHTTP("/", StaticHTTP(HTTPResponse{}))
	for name, f := range map[string]func(){
		"page on a WebSocket route": func() { e.HandleHTTP("/ws", StaticHTTP(HTTPResponse{})) },
		"page on /healthz":          func() { e.HandleHTTP("/healthz", StaticHTTP(HTTPResponse{})) },
		"WebSocket route on a page": func() { e.Handle("/", Echo{}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestETagMatch(t *testing.T) {
	for _, tc := range []struct {
		list, etag string
		want       bool
	}{
		{`"a"`, `"a"`, true},
		{`W/"a"`, `"a"`, true},
		{`"a"`, `W/"a"`, true},
		{` "x" ,  "a" `, `"a"`, true},
		{`*`, `"a"`, true},
		{`"b"`, `"a"`, false},
		{`a`, `"a"`, false},
		{``, `"a"`, false},
		{`,,`, `"a"`, false},
		{`"a`, `"a"`, false},
	} {
		if got := etagMatch([]byte(tc.list), tc.etag); got != tc.want {
			t.Errorf("etagMatch(%q, %q) = %v, want %v", tc.list, tc.etag, got, tc.want)
		}
	}
}
