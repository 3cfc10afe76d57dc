package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/switchboard-chat/switchboard/store/postgres"
)

// postgresFlags are the serve flags of --store postgres.
type postgresFlags struct {
	url              string
	maxConns         int
	statementTimeout time.Duration
	skipMigrations   bool
}

func (f *postgresFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "postgres-url", "", "PostgreSQL URL for --store postgres (or env SWITCHBOARD_POSTGRES_URL)")
	fs.IntVar(&f.maxConns, "postgres-max-conns", 0, "PostgreSQL connection pool size (0: 4 per CPU, at least 8)")
	fs.DurationVar(&f.statementTimeout, "postgres-statement-timeout", 5*time.Second,
		"longest a PostgreSQL statement may run before the call fails as unavailable")
	fs.BoolVar(&f.skipMigrations, "postgres-skip-migrations", false,
		"do not migrate the schema at start (run switchboard migrate first)")
}

// open connects, migrating unless told not to. The server does not start
// while the database is unreachable.
func (f *postgresFlags) open(log *slog.Logger) (*postgres.Store, error) {
	url := f.url
	if url == "" {
		url = os.Getenv("SWITCHBOARD_POSTGRES_URL")
	}
	if url == "" {
		return nil, errors.New("--store postgres needs --postgres-url or SWITCHBOARD_POSTGRES_URL " +
			"(e.g. postgres://switchboard@127.0.0.1:5432/switchboard)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, url, postgres.Options{
		MaxConns:         f.maxConns,
		StatementTimeout: f.statementTimeout,
		SkipMigrations:   f.skipMigrations,
		Logger:           log.With("store", "postgres"),
	})
	if err != nil {
		return nil, fmt.Errorf("--store postgres: %w", err)
	}
	return s, nil
}
