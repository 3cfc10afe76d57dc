package postgres

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Options configures a Store. The zero value of every field is the default
// written beside it; Open validates the struct once and names the field in
// any error.
type Options struct {
	// MaxConns is the connection pool's size. Default 4 per CPU, at least
	// 8; must not be negative.
	MaxConns int
	// Committers is how many group commits may be in flight at once, each
	// on its own connection: while one waits for its commit to reach disk,
	// the next collects the messages that arrived meanwhile. Default one
	// per 2 CPUs, from 1 to 4, and at most MaxConns/2: each commit costs
	// the server a fixed share of CPU, so where CPU is short fewer, fuller
	// commits ack more messages per second (bench/results/store-postgres.md).
	// At most MaxConns-1 so reads always find a connection (MaxConns 1
	// allows 1).
	Committers int
	// MaxBatch is the most messages one group commit carries. Default
	// 1,000; at most 100,000.
	MaxBatch int
	// StatementTimeout bounds every call: the server cancels a statement
	// running longer (statement_timeout), and the client gives up on a call
	// after that long plus ConnectTimeout. Either way the call fails with
	// store.ErrUnavailable. Default 5s; below 1ms is rejected.
	StatementTimeout time.Duration
	// ConnectTimeout bounds dialling and authenticating one connection.
	// Default 5s; must not be negative.
	ConnectTimeout time.Duration
	// ReconnectBackoff is how long calls fail fast with
	// store.ErrUnavailable after a connection attempt failed, instead of
	// each dialling a database that is down. Health always dials. Default
	// 500ms; must not be negative.
	ReconnectBackoff time.Duration
	// SkipMigrations leaves the schema alone at Open (run `switchboard
	// migrate` first); Open then fails if the schema is older than this
	// build. Default false: Open migrates.
	SkipMigrations bool
	// Logger receives connection-loss and recovery events. Default: a
	// logger that discards.
	Logger *slog.Logger
}

const (
	maxDefaultCommitters    = 4
	defaultMaxBatch         = 1000
	maxMaxBatch             = 100_000
	defaultStatementTimeout = 5 * time.Second
	defaultConnectTimeout   = 5 * time.Second
	defaultReconnectBackoff = 500 * time.Millisecond
	// maxPage caps one History or Since page whatever limit is asked; the
	// caller walks on with more.
	maxPage = 10_000
)

func (o *Options) validate() error {
	if o.MaxConns < 0 {
		return fmt.Errorf("postgres: Options.MaxConns %d is negative", o.MaxConns)
	}
	if o.MaxConns == 0 {
		o.MaxConns = max(8, 4*runtime.GOMAXPROCS(0))
	}
	if o.Committers < 0 {
		return fmt.Errorf("postgres: Options.Committers %d is negative", o.Committers)
	}
	if o.Committers == 0 {
		o.Committers = max(1, min(maxDefaultCommitters, runtime.GOMAXPROCS(0)/2, o.MaxConns/2))
	}
	if o.Committers > max(1, o.MaxConns-1) {
		return fmt.Errorf("postgres: Options.Committers %d leaves no connection of Options.MaxConns %d for reads",
			o.Committers, o.MaxConns)
	}
	if o.MaxBatch < 0 || o.MaxBatch > maxMaxBatch {
		return fmt.Errorf("postgres: Options.MaxBatch %d is not in [1, %d]", o.MaxBatch, maxMaxBatch)
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = defaultMaxBatch
	}
	if o.StatementTimeout < 0 || (o.StatementTimeout > 0 && o.StatementTimeout < time.Millisecond) {
		return fmt.Errorf("postgres: Options.StatementTimeout %v is below 1ms", o.StatementTimeout)
	}
	if o.StatementTimeout == 0 {
		o.StatementTimeout = defaultStatementTimeout
	}
	if o.ConnectTimeout < 0 {
		return fmt.Errorf("postgres: Options.ConnectTimeout %v is negative", o.ConnectTimeout)
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.ReconnectBackoff < 0 {
		return fmt.Errorf("postgres: Options.ReconnectBackoff %v is negative", o.ReconnectBackoff)
	}
	if o.ReconnectBackoff == 0 {
		o.ReconnectBackoff = defaultReconnectBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
