package sysctl

import (
	"strings"
	"testing"
	"testing/fstest"
)

// fakeProc is a /proc tree of a host tuned by 99-switchboard.conf with
// 16 GiB available; fields override single files.
func fakeProc(over map[string]string) fstest.MapFS {
	files := map[string]string{
		"self/limits": "Limit                     Soft Limit           Hard Limit           Units     \n" +
			"Max cpu time              unlimited            unlimited            seconds   \n" +
			"Max open files            1024                 1048576              files     \n",
		"sys/fs/nr_open":                   "1100000\n",
		"sys/fs/file-max":                  "2097152\n",
		"sys/net/ipv4/ip_local_port_range": "1024\t65535\n",
		"sys/net/core/somaxconn":           "65535\n",
		"sys/net/ipv4/tcp_mem":             "524288\t786432\t1048576\n",
		"meminfo":                          "MemTotal:       16384000 kB\nMemFree:        15000000 kB\nMemAvailable:   15800000 kB\n",
	}
	for k, v := range over {
		files[k] = v
	}
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return m
}

func TestPreflight(t *testing.T) {
	tests := []struct {
		name     string
		over     map[string]string
		conns    uint64
		failed   bool
		status   map[string]Status // checks whose status must be this
		fix      string            // in the output
		maxConns uint64            // 0: not checked
	}{
		{name: "tuned 16 GB box holds 1M", conns: 1_000_000,
			status: map[string]Status{"RLIMIT_NOFILE": OK, "fs.nr_open": OK, "memory": OK, "net.ipv4.tcp_mem": OK}},
		{name: "hard RLIMIT_NOFILE caps", conns: 1_000_000, failed: true, maxConns: 19000,
			over:   map[string]string{"self/limits": "Max open files            20000                20000                files\n"},
			status: map[string]Status{"RLIMIT_NOFILE": Cap}, fix: "LimitNOFILE=1001000"},
		{name: "fs.nr_open caps", conns: 1_000_000, failed: true, maxConns: 499000,
			over:   map[string]string{"sys/fs/nr_open": "500000\n"},
			status: map[string]Status{"fs.nr_open": Cap}, fix: "sysctl -w fs.nr_open=1001000"},
		{name: "fs.file-max caps", conns: 1_000_000, failed: true, maxConns: 99000,
			over:   map[string]string{"sys/fs/file-max": "100000\n"},
			status: map[string]Status{"fs.file-max": Cap}, fix: "sysctl -w fs.file-max=1101100"},
		{name: "memory caps", conns: 1_000_000, failed: true,
			over:   map[string]string{"meminfo": "MemAvailable:    2097152 kB\n"},
			status: map[string]Status{"memory": Cap}, fix: "the target needs 5.01 GiB available"},
		{name: "small tcp_mem and backlog warn but do not fail", conns: 1_000_000,
			over: map[string]string{"sys/net/ipv4/tcp_mem": "1000 2000 3000\n", "sys/net/core/somaxconn": "128\n",
				"sys/net/ipv4/ip_local_port_range": "32768 60999\n"},
			status: map[string]Status{"net.ipv4.tcp_mem": Warn, "net.core.somaxconn": Warn, "net.ipv4.ip_local_port_range": OK},
			fix:    `sysctl -w net.ipv4.tcp_mem="500000 750000 1000000"`},
		{name: "narrow port range warns", conns: 1000,
			over:   map[string]string{"sys/net/ipv4/ip_local_port_range": "60000 61000\n"},
			status: map[string]Status{"net.ipv4.ip_local_port_range": Warn}, fix: `ip_local_port_range="1024 65535"`},
		{name: "unlimited hard limit", conns: 1_000_000,
			over:   map[string]string{"self/limits": "Max open files            1024                 unlimited            files\n"},
			status: map[string]Status{"RLIMIT_NOFILE": OK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ReadHost(fakeProc(tt.over))
			if err != nil {
				t.Fatal(err)
			}
			r := Preflight(h, tt.conns, Costs["epoll"])
			var out strings.Builder
			r.Write(&out)
			if r.Failed() != tt.failed {
				t.Errorf("Failed() = %v, want %v:\n%s", r.Failed(), tt.failed, out.String())
			}
			got := map[string]Status{}
			for _, c := range r.Checks {
				got[c.Name] = c.Status
			}
			for name, want := range tt.status {
				if got[name] != want {
					t.Errorf("%s: %s, want %s:\n%s", name, got[name], want, out.String())
				}
			}
			if tt.fix != "" && !strings.Contains(out.String(), tt.fix) {
				t.Errorf("output lacks %q:\n%s", tt.fix, out.String())
			}
			if tt.maxConns != 0 && r.MaxConns() != tt.maxConns {
				t.Errorf("MaxConns = %d, want %d", r.MaxConns(), tt.maxConns)
			}
			if verdict := strings.Contains(out.String(), "FAIL:"); verdict != tt.failed {
				t.Errorf("verdict line: FAIL printed = %v", verdict)
			}
		})
	}
}

func TestReadHostErrors(t *testing.T) {
	for name, over := range map[string]map[string]string{
		"garbage number":      {"sys/fs/nr_open": "lots\n"},
		"no open files line":  {"self/limits": "Max cpu time unlimited unlimited seconds\n"},
		"no MemAvailable":     {"meminfo": "MemTotal: 1 kB\n"},
		"short tcp_mem":       {"sys/net/ipv4/tcp_mem": "1 2\n"},
		"bad MemAvailable":    {"meminfo": "MemAvailable: x kB\n"},
		"bad open files line": {"self/limits": "Max open files  many  1  files\n"},
	} {
		if _, err := ReadHost(fakeProc(over)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	m := fakeProc(nil)
	delete(m, "sys/net/core/somaxconn")
	if _, err := ReadHost(m); err == nil || !strings.Contains(err.Error(), "somaxconn") {
		t.Errorf("missing file: %v", err)
	}
}
