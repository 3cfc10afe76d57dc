package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeProc lays out a fake /proc with the files preflight reads.
func writeProc(t *testing.T, hardNofile string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"self/limits":                      "Max open files            1024                 " + hardNofile + "              files\n",
		"sys/fs/nr_open":                   "1100000\n",
		"sys/fs/file-max":                  "2097152\n",
		"sys/net/ipv4/ip_local_port_range": "1024 65535\n",
		"sys/net/core/somaxconn":           "65535\n",
		"sys/net/ipv4/tcp_mem":             "524288 786432 1048576\n",
		"meminfo":                          "MemAvailable:   15800000 kB\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPreflightCommand(t *testing.T) {
	var out strings.Builder
	if err := preflight([]string{"--proc", writeProc(t, "1048576")}, &out); err != nil {
		t.Fatalf("tuned host failed: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "OK: nothing caps 1000000 connections.") {
		t.Errorf("output:\n%s", out.String())
	}

	out.Reset()
	err := preflight([]string{"--proc", writeProc(t, "20000"), "--conns", "50000", "--backend", "netpoll"}, &out)
	if err == nil || !strings.Contains(err.Error(), "about 19000 can") {
		t.Fatalf("capped host: err %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "LimitNOFILE=51000") || !strings.Contains(out.String(), "netpoll backend") {
		t.Errorf("output:\n%s", out.String())
	}

	for _, bad := range [][]string{{"--backend", "kqueue"}, {"--conns", "0"}, {"extra"}, {"--proc", t.TempDir()}} {
		if err := preflight(bad, &out); err == nil {
			t.Errorf("preflight %v succeeded", bad)
		}
	}
}
