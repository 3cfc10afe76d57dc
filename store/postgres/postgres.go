package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/switchboard-chat/switchboard/store"
)

// maxConnsLimit is the largest pool Options.MaxConns may ask for.
const maxConnsLimit = 10_000

// Store is the PostgreSQL store.Store. Safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	opts Options
	log  *slog.Logger
	// callTimeout bounds one call on the client side: a statement's
	// server-side limit plus the time to get a connection.
	callTimeout time.Duration

	closeOnce sync.Once
	closed    atomic.Bool

	// downUntil (unix nanoseconds) is when calls stop failing fast after a
	// failed connection attempt; down records that the outage was logged.
	downUntil atomic.Int64
	down      atomic.Bool

	commits *committer
	// commitCount and committedCount count append transactions and the
	// messages they stored (benchmarks report messages per commit);
	// dedupRetries the batches that held a stored message and went again
	// through the duplicate lookup.
	commitCount, committedCount, dedupRetries atomic.Uint64
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or key=value
// DSN), applies missing migrations unless opts.SkipMigrations, and starts
// the group committers. It fails when the database cannot be reached: a
// server should not start half-working.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.MaxConns > maxConnsLimit {
		return nil, fmt.Errorf("postgres: Options.MaxConns %d is above %d", opts.MaxConns, maxConnsLimit)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: url: %w", err)
	}
	cfg.MaxConns = int32(opts.MaxConns)
	cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	params := cfg.ConnConfig.RuntimeParams
	params["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	// A client that stalls inside an append transaction must not keep a
	// room's row locked for long.
	params["idle_in_transaction_session_timeout"] = strconv.FormatInt(2*opts.StatementTimeout.Milliseconds(), 10)
	if params["application_name"] == "" {
		params["application_name"] = "switchboard"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, opts: opts, log: opts.Logger,
		callTimeout: opts.StatementTimeout + opts.ConnectTimeout}
	if err := s.prepareSchema(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	s.commits = newCommitter(s)
	return s, nil
}

// prepareSchema migrates, or checks the schema is current when migrations
// are skipped.
func (s *Store) prepareSchema(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout+time.Minute)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Release()
	if s.opts.SkipMigrations {
		v, err := schemaVersion(ctx, conn)
		if err != nil {
			return fmt.Errorf("postgres: read schema version: %w", err)
		}
		if v < SchemaVersion() {
			return fmt.Errorf("postgres: schema is at version %d, this build needs %d: run `switchboard migrate`",
				v, SchemaVersion())
		}
		return nil
	}
	res, err := migrate(ctx, conn.Conn())
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if len(res.Applied) > 0 {
		s.log.Info("postgres schema migrated", "from", res.From, "to", res.To, "applied", res.Applied)
	}
	return nil
}

var errClosed = fmt.Errorf("postgres: store closed: %w", store.ErrUnavailable)

// begin is the common prologue: a closed store, a done ctx, or a database
// known to be down fails the call before it changes anything.
func (s *Store) begin(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if until := s.downUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return fmt.Errorf("postgres: database unreachable, retrying after %v: %w",
			time.Until(time.Unix(0, until)).Round(time.Millisecond), store.ErrUnavailable)
	}
	return nil
}

// call runs fn for op under the per-call timeout and turns what fails into
// the store's errors.
func (s *Store) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	return s.result(ctx, op, fn(cctx))
}

// result maps err from an operation: the store's own sentinels pass
// through, a done caller ctx is reported as such, and everything else the
// database or the network did is store.ErrUnavailable (never a false
// success: the caller must not ack).
func (s *Store) result(ctx context.Context, op string, err error) error {
	if err == nil {
		if s.down.Load() && s.down.CompareAndSwap(true, false) {
			s.downUntil.Store(0)
			s.log.Info("postgres reachable again")
		}
		return nil
	}
	var trimmed *store.TrimmedError
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrInvalid) ||
		errors.Is(err, store.ErrUnavailable) || errors.As(err, &trimmed) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("postgres: %s: %w", op, cerr)
	}
	switch pgCode(err) {
	case codeBadCharacter, codeUntranslatable: // a NUL or invalid UTF-8 in a name
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrInvalid, err)
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		s.downUntil.Store(time.Now().Add(s.opts.ReconnectBackoff).UnixNano())
		if s.down.CompareAndSwap(false, true) {
			s.log.Warn("postgres unreachable", "op", op, "err", err, "backoff", s.opts.ReconnectBackoff)
		}
	}
	return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
}

// Health pings the database (always dialling, whatever the back-off) and
// reports store.ErrUnavailable when it does not answer in time.
func (s *Store) Health(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	return s.result(ctx, "health", s.pool.Ping(cctx))
}

// Close stops the group committers (appends waiting for them fail with
// store.ErrUnavailable), waits for calls in flight, and closes the pool.
// Idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.commits.close()
		s.pool.Close()
	})
	return nil
}

// pgCode returns the SQLSTATE of a server error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeBadCharacter        = "22021"
	codeUntranslatable      = "22P05"
)

func notFound(what, id string) error {
	return fmt.Errorf("postgres: %s %q: %w", what, id, store.ErrNotFound)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("postgres: "+format+": %w", append(args, store.ErrInvalid)...)
}

func checkLimit(limit int) error {
	if limit < 1 {
		return invalid("limit %d is below 1", limit)
	}
	return nil
}

// now is the store's clock: UTC at microsecond precision, what timestamptz
// keeps (store package rule).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// rowsOrNotFound turns pgx.ErrNoRows into ErrNotFound for what.
func rowsOrNotFound(err error, what, id string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(what, id)
	}
	return err
}
