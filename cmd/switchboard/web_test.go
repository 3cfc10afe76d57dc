package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeWebPages: serve puts the chat page at / (telling it the auth
// mode) and the dashboard at /dashboard, which --dashboard=false removes.
func TestServeWebPages(t *testing.T) {
	bin := buildBinary(t)
	fetch := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	_, addr := startServe(t, bin, "--auth", "none")
	for path, want := range map[string]string{
		"/":                "<title>switchboard chat</title>",
		"/config.json":     `"auth":"none"`,
		"/dashboard":       "switchboard dashboard",
		"/dashboard/stats": `"connections":`,
	} {
		if status, body := fetch("http://" + addr + path); status != 200 || !strings.Contains(body, want) {
			t.Fatalf("GET %s: %d, want 200 with %q", path, status, want)
		}
	}
	_, addr = startServe(t, bin, "--auth", "none", "--dashboard=false")
	if status, _ := fetch("http://" + addr + "/dashboard"); status != 404 {
		t.Fatalf("--dashboard=false: /dashboard answers %d, want 404", status)
	}
	if status, _ := fetch("http://" + addr + "/"); status != 200 {
		t.Fatalf("--dashboard=false: / answers %d, want 200", status)
	}
}
