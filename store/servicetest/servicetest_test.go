package servicetest

import (
	"bufio"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPostgresURLIsAFreshDatabase(t *testing.T) {
	t.Parallel()
	a, b := PostgresURL(t), PostgresURL(t)
	if a == b {
		t.Fatalf("two tests got the same database %s", a)
	}
	conn, err := pgx.Connect(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var db string
	var tables int
	err = conn.QueryRow(t.Context(),
		`SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&db, &tables)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(a); "/"+db != u.Path || tables != 0 {
		t.Fatalf("connected to %q with %d tables; want the empty database of %s", db, tables, a)
	}
}

func TestPostgresURLDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("owner", func(t *testing.T) {
		u, _ := url.Parse(PostgresURL(t))
		name = strings.TrimPrefix(u.Path, "/")
	})
	conn, err := pgx.Connect(t.Context(), PostgresServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if name == "" || n != 0 {
		t.Fatalf("database %q still exists after its test ended", name)
	}
}

func TestRedisURLAnswersPing(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(RedisURL(t))
	if err != nil || u.Scheme != "redis" {
		t.Fatalf("%s: want a redis:// URL (%v)", RedisEnv, err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING answered %q, %v", line, err)
	}
}

func TestUniqueName(t *testing.T) {
	a, b := UniqueName("x"), UniqueName("x")
	if a == b || !strings.HasPrefix(a, "x_") || len(a) != 18 || strings.ToLower(a) != a {
		t.Fatalf("UniqueName gave %q and %q", a, b)
	}
}
