package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/servicetest"
)

// adminExec runs sql on the test server's own database as superuser.
func adminExec(t *testing.T, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), servicetest.PostgresServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func dbName(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(p.Path, "/")
}

// openWithRoom opens a store on a fresh database (closed when t ends),
// creates room "r" owned by alice, and returns the store and the URL.
func openWithRoom(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	u := servicetest.PostgresURL(t)
	s, err := Open(t.Context(), u, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.CreateRoom(t.Context(), store.Room{ID: "r", CreatedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	return s, u
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, within, err)
		}
		<-tick.C
	}
}

// TestDatabaseDownAndBack: with the database refusing connections and
// every session killed, calls fail with ErrUnavailable (never a false
// success) and Health says so; once it accepts connections again the same
// Store works, without a restart, and no seq was lost or burnt.
func TestDatabaseDownAndBack(t *testing.T) {
	s, u := openWithRoom(t, Options{ReconnectBackoff: 50 * time.Millisecond, StatementTimeout: 5 * time.Second})
	name := pgx.Identifier{dbName(t, u)}.Sanitize()
	ctx := t.Context()
	if _, _, err := s.Append(ctx, msg("r", "alice", "before")); err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { adminExec(t, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true") })
	adminExec(t, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false")
	adminExec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", dbName(t, u))

	for i := range 3 { // the killed pooled connections, then refused new ones
		_, _, err := s.Append(ctx, msg("r", "alice", fmt.Sprint("during", i)))
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Append during the outage: err = %v, want ErrUnavailable", err)
		}
	}
	for name, call := range map[string]func() error{
		"Health":      func() error { return s.Health(ctx) },
		"LastSeq":     func() error { _, err := s.LastSeq(ctx, "r"); return err },
		"History":     func() error { _, _, err := s.History(ctx, "r", 0, 10); return err },
		"AppendBatch": func() error { _, err := s.AppendBatch(ctx, []store.Message{msg("r", "alice", "b")}); return err },
		"CreateRoom":  func() error { _, err := s.CreateRoom(ctx, store.Room{ID: "new", CreatedBy: "a"}); return err },
	} {
		if err := call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s during the outage: err = %v, want ErrUnavailable", name, err)
		}
	}

	adminExec(t, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true")
	waitFor(t, "Health after the database came back", 30*time.Second, func() error { return s.Health(ctx) })
	var m store.Message
	waitFor(t, "Append after the database came back", 30*time.Second, func() error {
		var err error
		m, _, err = s.Append(ctx, msg("r", "alice", "after"))
		return err
	})
	// Nothing from the outage was stored, and no seq was burnt.
	msgs, _, err := s.Since(ctx, "r", 0, 10)
	if err != nil || len(msgs) != 2 || msgs[0].ID != "before" || msgs[1].ID != "after" || m.Seq != 2 {
		t.Fatalf("after recovery: %+v, %v (appended seq %d)", msgs, err, m.Seq)
	}
}

// TestSlowDatabaseTimesOut: an append stuck behind a lock past the
// statement timeout fails with ErrUnavailable instead of hanging; once the
// lock goes, appends work and no seq was taken.
func TestSlowDatabaseTimesOut(t *testing.T) {
	s, u := openWithRoom(t, Options{StatementTimeout: 2 * time.Second})
	ctx := t.Context()
	blocker, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close(context.Background())
	tx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT * FROM room_seqs FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Append(ctx, msg("r", "alice", "slow"))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Append behind a held lock: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.AppendBatch(ctx, []store.Message{msg("r", "alice", "slow2")}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("AppendBatch behind a held lock: err = %v, want ErrUnavailable", err)
	}
	if err := s.Health(ctx); err != nil {
		t.Fatalf("Health with the database up: %v", err)
	}
	tx.Rollback(ctx)
	m, dup, err := s.Append(ctx, msg("r", "alice", "slow"))
	if err != nil || dup || m.Seq != 1 {
		t.Fatalf("Append after the lock went: %+v dup=%v %v; want seq 1", m, dup, err)
	}
}

// TestMigrateConcurrently: instances starting at once apply each migration
// exactly once; SkipMigrations refuses an unmigrated database and accepts a
// migrated one.
func TestMigrateConcurrently(t *testing.T) {
	u := servicetest.PostgresURL(t)
	ctx := t.Context()
	if _, err := Open(ctx, u, Options{SkipMigrations: true}); err == nil || !strings.Contains(err.Error(), "switchboard migrate") {
		t.Fatalf("Open(SkipMigrations) on an empty database: %v, want a pointer to switchboard migrate", err)
	}
	const n = 6
	results := make([]MigrationResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = Migrate(ctx, u, 10*time.Second) })
	}
	wg.Wait()
	applied := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Migrate %d: %v", i, errs[i])
		}
		if results[i].To != SchemaVersion() {
			t.Fatalf("Migrate %d: %+v, want version %d", i, results[i], SchemaVersion())
		}
		if len(results[i].Applied) > 0 {
			applied++
		}
	}
	if applied != 1 || SchemaVersion() < 1 {
		t.Fatalf("%d migrators applied steps, want exactly 1 (schema version %d)", applied, SchemaVersion())
	}
	s, err := Open(ctx, u, Options{SkipMigrations: true})
	if err != nil {
		t.Fatalf("Open(SkipMigrations) after migrate: %v", err)
	}
	s.Close()
}

// TestTwoInstancesCommitInSeqOrder: two Stores on one database (two
// instances) append to the same rooms at once while a reader follows each
// room with Since. The reader must never see seq N before N-1 (Since from
// the last seen seq always starts right after it): the property that lets
// the Redis fan-out refill a missed publication from PostgreSQL by seq.
func TestTwoInstancesCommitInSeqOrder(t *testing.T) {
	u := servicetest.PostgresURL(t)
	ctx := t.Context()
	a, err := Open(ctx, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const rooms, writers, perWriter = 3, 16, 40
	for r := range rooms {
		if _, err := a.CreateRoom(ctx, store.Room{ID: fmt.Sprint("r", r), CreatedBy: "o"}); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		last := make([]uint64, rooms)
		for {
			for r := range rooms {
				msgs, _, err := b.Since(ctx, fmt.Sprint("r", r), last[r], 1000)
				if err != nil {
					readErr <- err
					return
				}
				for _, m := range msgs {
					if m.Seq != last[r]+1 {
						readErr <- fmt.Errorf("room r%d: saw seq %d right after %d", r, m.Seq, last[r])
						return
					}
					last[r] = m.Seq
				}
			}
			select {
			case <-stop:
				readErr <- nil
				return
			default:
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			s := a
			if w%2 == 1 {
				s = b
			}
			for i := range perWriter {
				m := msg(fmt.Sprint("r", (w+i)%rooms), fmt.Sprint("w", w), fmt.Sprint(i))
				if _, dup, err := s.Append(ctx, m); err != nil || dup {
					errs <- fmt.Errorf("writer %d: dup=%v %v", w, dup, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	total := uint64(0)
	for r := range rooms {
		last, err := a.LastSeq(ctx, fmt.Sprint("r", r))
		if err != nil {
			t.Fatal(err)
		}
		total += last
	}
	if total != writers*perWriter {
		t.Fatalf("%d seqs assigned for %d messages", total, writers*perWriter)
	}
}

// TestSinceAfterPurge: messages an operator deleted make Since say so
// (*store.TrimmedError) rather than skip them.
func TestSinceAfterPurge(t *testing.T) {
	s, _ := openWithRoom(t, Options{})
	ctx := t.Context()
	for i := range 6 {
		if _, _, err := s.Append(ctx, msg("r", "alice", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM messages WHERE seq <= 3`); err != nil {
		t.Fatal(err)
	}
	var te *store.TrimmedError
	if _, _, err := s.Since(ctx, "r", 1, 10); !errors.As(err, &te) || te.Oldest != 4 {
		t.Fatalf("Since(1) after purging 1..3: %v, want TrimmedError oldest 4", err)
	}
	if msgs, _, err := s.Since(ctx, "r", 3, 10); err != nil || len(msgs) != 3 || msgs[0].Seq != 4 {
		t.Fatalf("Since(3) = %+v, %v", msgs, err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM messages`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Since(ctx, "r", 2, 10); !errors.As(err, &te) || te.Oldest != 7 {
		t.Fatalf("Since(2) with nothing stored: %v, want TrimmedError oldest 7", err)
	}
}

// TestUnstorableTextFailsOnlyItsMessage: a NUL in a client id is refused
// as ErrInvalid on its own, and the messages committed beside it are not
// affected.
func TestUnstorableTextFailsOnlyItsMessage(t *testing.T) {
	s, _ := openWithRoom(t, Options{})
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			id := fmt.Sprint("ok", i)
			if i%4 == 0 {
				id = "bad\x00" + id
			}
			_, _, errs[i] = s.Append(ctx, msg("r", "alice", id))
		})
	}
	wg.Wait()
	for i, err := range errs {
		want := error(nil)
		if i%4 == 0 {
			want = store.ErrInvalid
		}
		if !errors.Is(err, want) {
			t.Errorf("message %d: err = %v, want %v", i, err, want)
		}
	}
	res, err := s.AppendBatch(ctx, []store.Message{msg("r", "al\xffice", "x"), msg("r", "alice", "y")})
	if err != nil || !errors.Is(res[0].Err, store.ErrInvalid) || res[1].Err != nil || res[1].Message.Seq != 16 {
		t.Fatalf("AppendBatch with invalid UTF-8: %+v, %v", res, err)
	}
	if _, _, err := s.AddMember(ctx, "r", "b\x00b", store.RoleMember); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("AddMember with a NUL: %v, want ErrInvalid", err)
	}
}

func msg(room, from, id string) store.Message {
	return store.Message{Room: room, From: from, ID: id, Body: []byte(fmt.Sprintf(`{"text":%q}`, id))}
}
