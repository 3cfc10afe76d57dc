package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestAdminEndpointsNotOnPublicListener: the operator endpoints live only
// on --admin-addr (loopback by default); the public listener answers 404
// for them.
func TestAdminEndpointsNotOnPublicListener(t *testing.T) {
	bin := buildBinary(t)
	for _, args := range [][]string{{"--auth", "none"}} {
		_, addr := startServe(t, bin, args...)
		for _, req := range []struct{ method, path string }{
			{"GET", "/debug/stats"}, {"GET", "/debug/pprof/"}, {"GET", "/debug/pprof/heap"},
			{"POST", "/debug/gc"}, {"GET", "/metrics"},
		} {
			r, _ := http.NewRequest(req.method, "http://"+addr+req.path, nil)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatalf("%v %s %s: %v", args, req.method, req.path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%v: %s %s on the public listener: %d, want 404", args, req.method, req.path, resp.StatusCode)
			}
		}
	}
}

// TestAllowedOriginsFlag: --allowed-origins refuses other browser origins
// with 403 (case-insensitive exact match) and lets clients without Origin
// through.
func TestAllowedOriginsFlag(t *testing.T) {
	bin := buildBinary(t)
	_, addr := startServe(t, bin, "--auth", "none", "--allowed-origins", "https://chat.example, https://other.example")
	for origin, want := range map[string]int{
		"https://chat.example": 101, "HTTPS://Other.Example": 101, "": 101,
		"https://evil.example": 403, "null": 403, "https://chat.example.evil.example": 403,
	} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", h)
		got := 0
		if resp != nil {
			got = resp.StatusCode
		}
		if c != nil {
			c.Close()
		}
		if got != want {
			t.Errorf("Origin %q: %d (%v), want %d", origin, got, err, want)
		}
		if want == 403 && err != nil && !strings.Contains(err.Error(), "bad handshake") {
			t.Errorf("Origin %q: %v", origin, err)
		}
	}
}
