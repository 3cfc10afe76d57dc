package main

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestByteSizeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"0", 0, false}, {"1048576", 1 << 20, false}, {"512MiB", 512 << 20, false}, {"2GiB", 2 << 30, false},
		{"2G", 2 << 30, false}, {"2gb", 2 << 30, false}, {"64k", 64 << 10, false}, {"100B", 100, false},
		{"1TiB", 1 << 40, false}, {"", 0, true}, {"-1", 0, true}, {"1.5G", 0, true}, {"lots", 0, true},
		{"99999999999T", 0, true},
	} {
		var b byteSize
		err := b.Set(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && int64(b) != tc.want) {
			t.Errorf("Set(%q) = %d, %v; want %d (error: %v)", tc.in, b, err, tc.want, tc.bad)
		}
	}
}

func TestPrefixListFlag(t *testing.T) {
	var l prefixList
	if err := l.Set("10.0.0.0/8, 192.0.2.7,::1, 2001:db8::1/48"); err != nil {
		t.Fatal(err)
	}
	if got := l.String(); got != "10.0.0.0/8,192.0.2.7/32,::1/128,2001:db8::/48" {
		t.Fatalf("parsed %s", got)
	}
	if err := l.Set(""); err != nil || len(l) != 0 {
		t.Fatalf("empty list: %v %v", l, err)
	}
	if err := l.Set("10.0.0.0/8,not-an-ip"); err == nil {
		t.Fatal("accepted a bad prefix")
	}
}

// The serve defaults exempt loopback from the per-IP limits; with the
// exemption removed, the limit applies to a loopback client end to end.
func TestServePerIPLimitFlags(t *testing.T) {
	bin := buildBinary(t)
	_, addr := startServe(t, bin, "--echo", "--auth", "none", "--ip-limit-exempt", "", "--max-conns-per-ip", "1")
	first, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/echo", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second connection from one address: %v %v, want 429 with Retry-After", resp, err)
	}
	// With the defaults, loopback is exempt.
	_, addr = startServe(t, bin, "--echo", "--auth", "none", "--max-conns-per-ip", "1")
	for i := 0; i < 3; i++ {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/echo", nil)
		if err != nil {
			t.Fatalf("loopback connection %d with the default exemption: %v", i, err)
		}
		defer c.Close()
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
		t.Fatal(err)
	}
}
