package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/room/chattest"
	"github.com/switchboard-chat/switchboard/store/servicetest"
)

// TestReadyzFollowsPostgres: /readyz of `serve --store postgres` turns 503
// when its PostgreSQL stops and 200 again when it is back, without a
// restart of serve. The server is the test's own: the shared one stays up.
func TestReadyzFollowsPostgres(t *testing.T) {
	bin := buildBinary(t)
	ps := servicetest.StartPostgres(t)
	s := runServe(t, bin, nil, "--auth", "none", "--store", "postgres", "--postgres-url", ps.URL())
	if got := waitReadyz(s.admin, http.StatusOK); got != http.StatusOK {
		t.Fatalf("/readyz = %d with PostgreSQL up, want 200", got)
	}
	t.Logf("stopping %v", ps)
	ps.Stop(t)
	if got := waitReadyz(s.admin, http.StatusServiceUnavailable); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d with PostgreSQL stopped, want 503", got)
	}
	t.Logf("starting %v again", ps)
	ps.Start(t)
	if got := waitReadyz(s.admin, http.StatusOK); got != http.StatusOK {
		t.Fatalf("/readyz = %d after PostgreSQL came back, want 200", got)
	}
}

// TestClusterRollingRestart: one of two instances is restarted gracefully
// (SIGTERM: goaway and close 1001, exit 0, then started again on the same
// address) while members and publishers run. Its clients fail over to the
// other instance and resume with join {since}; a publisher started after
// the restart publishes through the restarted instance. Every acked message
// must reach every member exactly once.
func TestClusterRollingRestart(t *testing.T) {
	bin := buildBinary(t)
	args := clusterArgs(t, servicetest.RedisURL(t), "--shutdown-timeout", "5s", "--reconnect-window", "200ms")
	a := runServe(t, bin, nil, append(args, "--instance-id", "a")...)
	b := runServe(t, bin, nil, append(args, "--instance-id", "b")...)
	addrs := []string{a.addr, b.addr}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	createRoom(ctx, t, a.addr, "rolling")

	ledger := chattest.NewLedger()
	var members []*chattest.Member
	for i := range 4 {
		members = append(members, &chattest.Member{User: fmt.Sprintf("member%d", i), Room: "rolling",
			Addrs: chattest.NewAddrs(i, addrs...), Ledger: ledger})
	}
	mctx, stopMembers := context.WithCancel(ctx)
	var mwg sync.WaitGroup
	for _, m := range members {
		mwg.Add(1)
		go func() { defer mwg.Done(); m.Run(mctx) }()
	}
	defer func() { stopMembers(); mwg.Wait() }() // none outlives the test, even on t.Fatal

	// Once a third of pub0's messages are acked, the test goroutine
	// restarts a while the publishers go on: SIGTERM, wait for exit 0,
	// start it again on the same address.
	const count = 300
	third := make(chan struct{})
	var once sync.Once
	var pubs []*chattest.Publisher
	for i := range 2 {
		p := &chattest.Publisher{User: fmt.Sprintf("pub%d", i), Room: "rolling", Count: count,
			Addrs: chattest.NewAddrs(i, addrs...), Ledger: ledger}
		if i == 0 {
			p.Acked = func(n int) {
				if n == count/3 {
					once.Do(func() { close(third) })
				}
			}
		}
		pubs = append(pubs, p)
	}
	var pwg sync.WaitGroup
	defer func() { cancel(); pwg.Wait() }()
	for _, p := range pubs {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			if err := p.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	select {
	case <-third:
	case <-ctx.Done():
		t.Fatal("pub0 never had a third of its messages acked")
	}
	t.Log("SIGTERM instance a")
	a.cmd.Process.Signal(syscall.SIGTERM)
	waitExit0(t, a.cmd)
	again := runServe(t, bin, nil, append(args, "--instance-id", "a", "--addr", a.addr)...)
	t.Logf("instance a restarted; acked so far: %d", ledger.Count(nil).Acked)
	pwg.Wait()
	if again.addr != a.addr {
		t.Fatalf("restarted instance listens on %s, want %s", again.addr, a.addr)
	}
	if got := waitReadyz(again.admin, http.StatusOK); got != http.StatusOK {
		t.Fatalf("/readyz of the restarted instance = %d, want 200", got)
	}
	// Traffic through the restarted instance reaches the members, most of
	// whom now sit on b.
	late := &chattest.Publisher{User: "late", Room: "rolling", Count: 50,
		Addrs: chattest.NewAddrs(0, addrs...), Ledger: ledger}
	if err := late.Run(ctx); err != nil {
		t.Fatal(err)
	}
	c := ledger.Check(t, members, 30*time.Second)
	stopMembers()
	mwg.Wait()
	if want := 2*count + late.Count; c.Acked != want {
		t.Errorf("acked %d messages, want %d", c.Acked, want)
	}
}
