package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded schema step: migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrationLockKey is the transaction-scoped advisory lock that serialises
// migrating: two instances starting at once apply each step exactly once.
const migrationLockKey int64 = 0x73776264_6d696772 // "swbdmigr"

// migrations lists the embedded steps in version order. A malformed file
// name is a build mistake, reported on every Open.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("postgres: migration file %q is not NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migrations are not numbered 1, 2, 3, ...: %d is step %d", m.version, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this build's migrations produce.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// MigrationResult says what Migrate found and did.
type MigrationResult struct {
	// From is the version the database had (0: empty), To the version it
	// has now.
	From, To int
	// Applied names the steps applied now, "0002_name" style.
	Applied []string
}

// migrate brings the database on conn up to the newest embedded version in
// one transaction under an advisory lock. A database newer than this build
// is left alone (an older instance in a rolling upgrade keeps working on an
// additive schema); the result says so by To > SchemaVersion().
func migrate(ctx context.Context, conn *pgx.Conn) (MigrationResult, error) {
	var res MigrationResult
	steps, err := migrations()
	if err != nil {
		return res, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return res, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The server's per-statement limit is for serving calls: waiting for
	// another instance's migration, or a long step, is bounded by ctx.
	if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
		return res, err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
		return res, err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return res, err
	}
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&res.From); err != nil {
		return res, err
	}
	res.To = res.From
	for _, m := range steps {
		if m.version <= res.From {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return res, fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return res, err
		}
		res.Applied = append(res.Applied, fmt.Sprintf("%04d_%s", m.version, m.name))
		res.To = m.version
	}
	return res, tx.Commit(ctx)
}

// Migrate connects to the database at url and applies the embedded
// migrations that it lacks, as Open does unless Options.SkipMigrations.
// It is what `switchboard migrate` runs, for operators who migrate with a
// more privileged role than the server's. Safe to run concurrently with
// other instances starting or migrating.
func Migrate(ctx context.Context, url string, connectTimeout time.Duration) (MigrationResult, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("postgres: url: %w", err)
	}
	if connectTimeout > 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res, err := migrate(ctx, conn)
	if err != nil {
		return res, fmt.Errorf("postgres: migrate: %w", err)
	}
	return res, nil
}

// schemaVersion reads the applied version (0 when never migrated).
func schemaVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
