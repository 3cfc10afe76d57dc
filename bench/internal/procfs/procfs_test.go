package procfs

import (
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	in := "Name:\tpeer-gorilla\nVmHWM:\t   50000 kB\nVmRSS:\t   40000 kB\nRssAnon:\t   30000 kB\nRssFile:\t    9000 kB\nRssShmem:\t       0 kB\nThreads:\t7\n"
	s, err := ParseStatus(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Status{VmRSS: 40000 << 10, RssAnon: 30000 << 10, RssFile: 9000 << 10, VmHWM: 50000 << 10, Threads: 7}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	if _, err := ParseStatus(strings.NewReader("Name:\tx\n")); err == nil {
		t.Error("no VmRSS: no error")
	}
}

func TestParseStatCPU(t *testing.T) {
	// comm with a space and a parenthesis, utime 120, stime 35.
	in := "4242 (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 120 35 0 0 20 0 7 0 100 1000000 2000 18446744073709551615"
	got, err := ParseStatCPU(in)
	if err != nil {
		t.Fatal(err)
	}
	if got != 155 {
		t.Errorf("got %d, want 155", got)
	}
	if _, err := ParseStatCPU("garbage"); err == nil {
		t.Error("garbage: no error")
	}
}

func TestParseSockstat(t *testing.T) {
	in := "sockets: used 38012\nTCP: inuse 38002 orphan 0 tw 12 alloc 38004 mem 3\nUDP: inuse 0 mem 0\n"
	s, err := ParseSockstat(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Sockstat{SocketsUsed: 38012, TCPInuse: 38002, TCPTW: 12, TCPAlloc: 38004, TCPMemPages: 3}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
}

func TestParseMeminfo(t *testing.T) {
	in := "MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\nSlab:             300000 kB\nSReclaimable:     100000 kB\nSUnreclaim:       200000 kB\n"
	m, err := ParseMeminfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.Slab != 300000<<10 || m.SUnreclaim != 200000<<10 || m.MemTotal != 24000000<<10 {
		t.Errorf("got %+v", m)
	}
}

func TestParseSlabinfo(t *testing.T) {
	in := `slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
TCP                   26     26   2368   13    8 : tunables    0    0    0 : slabdata      2      2      0
dentry             14637  14637    192   21    1 : tunables    0    0    0 : slabdata    697    697      0
btrfs_inode            0      0   1208   27    8 : tunables    0    0    0 : slabdata      0      0      0
`
	m, err := ParseSlabinfo(strings.NewReader(in), func(n string) bool { return n != "btrfs_inode" })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 {
		t.Fatalf("kept %d caches, want 2: %v", len(m), m)
	}
	if got := m["TCP"].Bytes(); got != 26*2368 {
		t.Errorf("TCP bytes = %d", got)
	}
}

func TestParseSystemCPU(t *testing.T) {
	c, err := ParseSystemCPU("cpu  107259 3 71650 463145 623 1 9990 7 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	if err != nil {
		t.Fatal(err)
	}
	want := SystemCPU{User: 107259, Nice: 3, System: 71650, Idle: 463145, IOWait: 623, IRQ: 1, SoftIRQ: 9990, Steal: 7}
	if c != want || c.Task() != 107259+3+71650 {
		t.Errorf("got %+v", c)
	}
	if _, err := ParseSystemCPU("intr 1 2 3\n"); err == nil {
		t.Error("no cpu line accepted")
	}
}
