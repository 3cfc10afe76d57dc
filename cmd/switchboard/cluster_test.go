package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-chat/switchboard/room/chattest"
	"github.com/switchboard-chat/switchboard/store/servicetest"
)

// The fault tests of a two-instance cluster: real processes of the real
// binary on PostgreSQL and Redis. Each runs members (who stay in the room,
// failing over to the other instance and rejoining with since) and
// publishers (who retry each message with its id until acked), injects one
// fault mid-stream, and checks that every acked message reached every
// member exactly once.

// clusterArgs are the serve flags of one test cluster.
func clusterArgs(t *testing.T, redisURL string, extra ...string) []string {
	t.Helper()
	return append([]string{"--auth", "none", "--store", "postgres", "--postgres-url", servicetest.PostgresURL(t),
		"--redis-url", redisURL, "--redis-prefix", servicetest.UniqueName("sbtest") + ":",
		"--rate", "100000", "--presence-ttl", "3s"}, extra...)
}

// faultRun is one stream of traffic through a cluster.
type faultRun struct {
	ledger  *chattest.Ledger
	members []*chattest.Member
	pubs    []*chattest.Publisher
}

// runWithFault creates a room, runs 3 members and 2 publishers (count
// messages each) spread over addrs, calls fault once the first publisher
// has had count/3 acks, and checks the ledger.
func runWithFault(t *testing.T, addrs []string, count int, body string, fault func()) *faultRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	createRoom(ctx, t, addrs[0], "faults")
	r := &faultRun{ledger: chattest.NewLedger()}
	for i := range 3 {
		r.members = append(r.members, &chattest.Member{User: fmt.Sprintf("member%d", i), Room: "faults",
			Addrs: chattest.NewAddrs(i, addrs...), Ledger: r.ledger})
	}
	var once sync.Once
	for i := range 2 {
		p := &chattest.Publisher{User: fmt.Sprintf("pub%d", i), Room: "faults", Count: count, Body: body,
			Addrs: chattest.NewAddrs(i, addrs...), Ledger: r.ledger}
		if i == 0 {
			p.Acked = func(n int) {
				if n == count/3 {
					once.Do(fault)
				}
			}
		}
		r.pubs = append(r.pubs, p)
	}
	mctx, stopMembers := context.WithCancel(ctx)
	var mwg sync.WaitGroup
	for _, m := range r.members {
		mwg.Add(1)
		go func() { defer mwg.Done(); m.Run(mctx) }()
	}
	var pwg sync.WaitGroup
	for _, p := range r.pubs {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			if err := p.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	pwg.Wait()
	r.ledger.Check(t, r.members, 30*time.Second)
	stopMembers()
	mwg.Wait()
	return r
}

func TestClusterFaultKill9(t *testing.T) {
	bin := buildBinary(t)
	redisURL := servicetest.RedisURL(t)
	args := clusterArgs(t, redisURL)
	a, addrA := startServe(t, bin, append(args, "--instance-id", "a")...)
	_, addrB := startServe(t, bin, append(args, "--instance-id", "b")...)
	runWithFault(t, []string{addrA, addrB}, 300, "", func() {
		t.Log("kill -9 instance a")
		a.Process.Signal(syscall.SIGKILL)
	})
}

func TestClusterFaultPostgresOutage(t *testing.T) {
	bin := buildBinary(t)
	args := clusterArgs(t, servicetest.RedisURL(t))
	db := ""
	for i, a := range args {
		if a == "--postgres-url" {
			db = args[i+1]
		}
	}
	_, addrA := startServe(t, bin, append(args, "--instance-id", "a")...)
	_, addrB := startServe(t, bin, append(args, "--instance-id", "b")...)
	done := make(chan struct{})
	r := runWithFault(t, []string{addrA, addrB}, 300, "", func() {
		// Only this test's database goes away: the server is shared.
		t.Log("PostgreSQL: database refuses connections for 2s")
		name := pgDatabase(t, db)
		pgAdmin(t, fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS false`, name))
		pgAdmin(t, fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()`, name))
		go func() {
			defer close(done)
			time.Sleep(2 * time.Second)
			pgAdmin(t, fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS true`, name))
		}()
	})
	<-done
	if r.pubs[0].Unavailable == 0 && r.pubs[1].Unavailable == 0 {
		t.Errorf("no publish was answered unavailable during the outage")
	}
}

func TestClusterFaultRedisRestart(t *testing.T) {
	bin := buildBinary(t)
	rs := servicetest.StartRedis(t)
	args := clusterArgs(t, rs.URL())
	a := runServe(t, bin, nil, append(args, "--instance-id", "a")...)
	b := runServe(t, bin, nil, append(args, "--instance-id", "b")...)
	done := make(chan struct{})
	var readyDuring int
	r := runWithFault(t, []string{a.addr, b.addr}, 300, "", func() {
		t.Log("Redis: kill -9, restart after 1s (no persistence)")
		rs.Kill()
		go func() {
			defer close(done)
			// /readyz fails while Redis is down, then recovers.
			readyDuring = waitReadyz(a.admin, http.StatusServiceUnavailable)
			time.Sleep(time.Second)
			rs.Start(t)
		}()
	})
	<-done
	if readyDuring != http.StatusServiceUnavailable {
		t.Errorf("/readyz answered %d while Redis was down, want 503", readyDuring)
	}
	if got := waitReadyz(a.admin, http.StatusOK); got != http.StatusOK {
		t.Errorf("/readyz answered %d after Redis came back, want 200", got)
	}
	if r.pubs[0].Unavailable == 0 && r.pubs[1].Unavailable == 0 {
		t.Errorf("no publish was answered unavailable while Redis was down")
	}
}

func TestClusterFaultSlowConsumer(t *testing.T) {
	bin := buildBinary(t)
	args := clusterArgs(t, servicetest.RedisURL(t), "--outbound-budget", "65536")
	_, addrA := startServe(t, bin, append(args, "--instance-id", "a")...)
	_, addrB := startServe(t, bin, append(args, "--instance-id", "b")...)
	addrs := []string{addrA, addrB}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	createRoom(ctx, t, addrA, "faults")
	ledger := chattest.NewLedger()
	slow := &chattest.Member{User: "slow", Room: "faults", Addrs: chattest.NewAddrs(1, addrs...), Ledger: ledger,
		PauseFor: 3 * time.Second}
	fast := &chattest.Member{User: "fast", Room: "faults", Addrs: chattest.NewAddrs(1, addrs...), Ledger: ledger}
	mctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, m := range []*chattest.Member{slow, fast} {
		wg.Add(1)
		go func() { defer wg.Done(); m.Run(mctx) }()
	}
	// ~12 KB bodies: far more than the socket buffers hold while slow
	// does not read, so its queue passes the 64 KB budget.
	body := fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", 12000))
	p := &chattest.Publisher{User: "pub", Room: "faults", Count: 800, Body: body, Addrs: chattest.NewAddrs(0, addrs...), Ledger: ledger}
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	c := ledger.Check(t, []*chattest.Member{slow, fast}, 30*time.Second)
	stop()
	wg.Wait()
	if c.Evicted == 0 {
		t.Errorf("the slow member was never closed with 4001")
	}
}

// createRoom has user "owner" create room through addr.
func createRoom(ctx context.Context, t *testing.T, addr, room string) {
	t.Helper()
	owner, err := chattest.Dial(ctx, addr, "owner")
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	owner.Send(fmt.Sprintf(`{"type":"create","room":%q}`, room))
	if f, err := owner.Next(ctx, "created"); err != nil || f.Type() != "created" {
		t.Fatalf("create: %v %v", f, err)
	}
}

// waitReadyz polls the admin listener's /readyz (up to 10s) until it
// answers want, and returns the last status.
func waitReadyz(admin string, want int) int {
	status := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if status = resp.StatusCode; status == want {
			break
		}
	}
	return status
}

// pgDatabase is the database name of a URL from servicetest.PostgresURL.
func pgDatabase(t *testing.T, url string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

// pgAdmin runs one statement on the test server's default database.
func pgAdmin(t *testing.T, sql string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, servicetest.PostgresServerURL(t))
	if err != nil {
		t.Errorf("pgAdmin: %v", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Errorf("%s: %v", sql, err)
	}
}
