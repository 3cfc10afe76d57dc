package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/switchboard-chat/switchboard/cmd/switchboard/internal/config"
	"github.com/switchboard-chat/switchboard/store/postgres"
)

// postgresFlags are the serve settings of --store postgres.
type postgresFlags struct {
	url              string
	maxConns         int
	statementTimeout time.Duration
	connectTimeout   time.Duration
	reconnectBackoff time.Duration
	committers       int
	skipMigrations   bool
}

func (f *postgresFlags) register(fs *config.Set) {
	fs.StringVar(&f.url, "postgres-url", "", "PostgreSQL URL for --store postgres, e.g. postgres://user:pass@host:5432/db").Secret()
	fs.IntVar(&f.maxConns, "postgres-max-conns", 0, "PostgreSQL connection pool size (0: 4 per CPU, at least 8)").NonNegative()
	fs.DurationVar(&f.statementTimeout, "postgres-statement-timeout", 5*time.Second,
		"longest a PostgreSQL statement may run before the call fails as unavailable").Positive()
	fs.DurationVar(&f.connectTimeout, "postgres-connect-timeout", 5*time.Second,
		"longest dialling and authenticating one PostgreSQL connection may take").Positive()
	fs.DurationVar(&f.reconnectBackoff, "postgres-reconnect-backoff", 500*time.Millisecond,
		"after a failed connection attempt, how long store calls fail fast as unavailable instead of each dialling the database").Positive()
	fs.IntVar(&f.committers, "postgres-committers", 0,
		"group-commit transactions in flight at once, rooms sharded among them (0: one per 2 CPUs, 1 to 4)").NonNegative()
	fs.BoolVar(&f.skipMigrations, "postgres-skip-migrations", false,
		"do not migrate the schema at start (run switchboard migrate first)")
}

// open connects, migrating unless told not to. The server does not start
// while the database is unreachable.
func (f *postgresFlags) open(set *config.Set, log *slog.Logger) (*postgres.Store, error) {
	if f.url == "" {
		return nil, set.Errorf("postgres-url", "--store postgres needs a PostgreSQL URL "+
			"(--postgres-url or SWITCHBOARD_POSTGRES_URL, e.g. postgres://switchboard@127.0.0.1:5432/switchboard)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, f.url, postgres.Options{
		MaxConns:         f.maxConns,
		StatementTimeout: f.statementTimeout,
		ConnectTimeout:   f.connectTimeout,
		ReconnectBackoff: f.reconnectBackoff,
		Committers:       f.committers,
		SkipMigrations:   f.skipMigrations,
		Logger:           log.With("store", "postgres"),
	})
	if err != nil {
		return nil, set.Errorf("store", "postgres: %v", err)
	}
	return s, nil
}
