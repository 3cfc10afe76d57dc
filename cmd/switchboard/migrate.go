package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/store/postgres"
)

// migrate applies the embedded PostgreSQL schema migrations: what serve
// --store postgres does at start, for operators who migrate first (with a
// more privileged role) and serve with --postgres-skip-migrations.
func migrate(args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	url := fs.String("postgres-url", "", "PostgreSQL URL (or env SWITCHBOARD_POSTGRES_URL)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long (waiting for another migrator included)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate: unexpected arguments %q", fs.Args())
	}
	if *url == "" {
		*url = getenv("SWITCHBOARD_POSTGRES_URL")
	}
	if *url == "" {
		return errors.New("migrate: --postgres-url or SWITCHBOARD_POSTGRES_URL is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := postgres.Migrate(ctx, *url, 0)
	if err != nil {
		return err
	}
	switch {
	case len(res.Applied) > 0:
		fmt.Fprintf(stdout, "migrated from version %d to %d: %s\n", res.From, res.To, strings.Join(res.Applied, ", "))
	case res.To > postgres.SchemaVersion():
		fmt.Fprintf(stdout, "schema at version %d, newer than this build's %d: nothing to do\n", res.To, postgres.SchemaVersion())
	default:
		fmt.Fprintf(stdout, "schema already at version %d\n", res.To)
	}
	return nil
}
