// Package servicetest hands integration tests the real PostgreSQL and Redis
// that `make test` starts (scripts/services.sh), each test isolated from the
// others so tests and packages can run in parallel.
//
// The servers are named by two environment variables, which services.sh
// exports: SWITCHBOARD_TEST_POSTGRES_URL (a superuser URL, e.g.
// postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable) and
// SWITCHBOARD_TEST_REDIS_URL (redis://127.0.0.1:6380/0). When one is unset
// the test needing it is skipped with a message saying how to run it, except
// under CI (CI=true), where it fails: a missing service must never pass as a
// silent skip there.
//
// Outage tests that must stop a server use one of their own instead:
// StartRedis and StartPostgres start a private redis-server or PostgreSQL
// cluster on a free port, which the test may stop and start again.
//
// Only tests import this package.
package servicetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables naming the servers.
const (
	PostgresEnv = "SWITCHBOARD_TEST_POSTGRES_URL"
	RedisEnv    = "SWITCHBOARD_TEST_REDIS_URL"
)

// require returns the value of env, or skips t (fails it under CI) with a
// message naming the way to get one.
func require(t testing.TB, env, what string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	msg := fmt.Sprintf("%s is not set: run `make test` (scripts/test.sh starts a throwaway %s), "+
		"or `scripts/services.sh go test ...`, or set %s to a %s URL", env, what, env, what)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// PostgresServerURL returns the superuser URL of the test PostgreSQL server
// itself, for tests that administer it (terminate backends, block a
// database). Tests that only need a database use PostgresURL.
func PostgresServerURL(t testing.TB) string {
	t.Helper()
	return require(t, PostgresEnv, "PostgreSQL")
}

// PostgresURL creates an empty database for t alone, drops it when t ends
// (after cleanups registered later, such as closing a store, have run), and
// returns its URL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	server := PostgresServerURL(t)
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s=%q: want a postgres:// URL (%v)", PostgresEnv, server, err)
	}
	name := UniqueName("sbtest")
	admin(t, server, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		admin(t, server, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	u.Path = "/" + name
	return u.String()
}

// admin runs one statement on the server's default database.
func admin(t testing.TB, server, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL (%s): %v", PostgresEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// RedisURL returns the URL of the test Redis server. The server is shared
// by every test running at the same time: keep keys under a prefix from
// UniqueName.
func RedisURL(t testing.TB) string {
	t.Helper()
	return require(t, RedisEnv, "Redis")
}

// UniqueName returns prefix followed by an underscore and 16 random
// lower-case letters and digits: a name (database, schema, key prefix) no
// other test run uses.
func UniqueName(prefix string) string {
	return prefix + "_" + strings.ToLower(rand.Text()[:16])
}
