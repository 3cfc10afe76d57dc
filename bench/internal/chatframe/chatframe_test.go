package chatframe

import "testing"

func TestScanServerFrames(t *testing.T) {
	msg := []byte(`{"type":"message","room":"fan","seq":42,"id":"p0-7","from":"p0","body":{"t":1700000000123456789},"ts":"2026-01-02T03:04:05Z"}`)
	tests := []struct {
		name string
		p    []byte
		typ  string
		key  string
		want uint64
		ok   bool
	}{
		{"message seq", msg, "message", `"seq":`, 42, true},
		{"message t, not ts or type", msg, "message", `"t":`, 1700000000123456789, true},
		{"joined seq", []byte(`{"type":"joined","room":"fan","seq":0,"history":[],"online":3}`), "joined", `"seq":`, 0, true},
		{"missing field", []byte(`{"type":"ack","id":"x"}`), "ack", `"seq":`, 0, false},
		{"not a number", []byte(`{"type":"x","seq":"a"}`), "x", `"seq":`, 0, false},
		{"not a chat frame", []byte(`hello`), "", `"seq":`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Type(tt.p)); got != tt.typ {
				t.Errorf("Type = %q, want %q", got, tt.typ)
			}
			got, ok := Int(tt.p, tt.key)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Int(%s) = %d, %v; want %d, %v", tt.key, got, ok, tt.want, tt.ok)
			}
		})
	}
	if code := String([]byte(`{"type":"error","code":"rate_limited","message":"m"}`), `"code":`); code != "rate_limited" {
		t.Errorf("String = %q", code)
	}
}
