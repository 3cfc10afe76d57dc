package postgres

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestOptionsDefaultsAndErrors(t *testing.T) {
	var o Options
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	if o.MaxConns < 8 || o.Committers < 1 || o.Committers > o.MaxConns-1 || o.MaxBatch != defaultMaxBatch ||
		o.StatementTimeout != defaultStatementTimeout || o.ConnectTimeout != defaultConnectTimeout ||
		o.ReconnectBackoff != defaultReconnectBackoff || o.Logger == nil {
		t.Fatalf("defaults: %+v", o)
	}
	if want := max(1, min(4, runtime.GOMAXPROCS(0)/2)); o.Committers != want {
		t.Fatalf("default Committers %d with GOMAXPROCS %d, want %d", o.Committers, runtime.GOMAXPROCS(0), want)
	}
	one := Options{MaxConns: 1}
	if err := one.validate(); err != nil || one.Committers != 1 {
		t.Fatalf("MaxConns 1: Committers %d, %v", one.Committers, err)
	}
	for _, tc := range []struct {
		opts  Options
		field string
	}{
		{Options{MaxConns: -1}, "MaxConns"},
		{Options{Committers: -1}, "Committers"},
		{Options{MaxConns: 4, Committers: 4}, "Committers"},
		{Options{MaxBatch: -1}, "MaxBatch"},
		{Options{MaxBatch: maxMaxBatch + 1}, "MaxBatch"},
		{Options{StatementTimeout: time.Microsecond}, "StatementTimeout"},
		{Options{StatementTimeout: -time.Second}, "StatementTimeout"},
		{Options{ConnectTimeout: -time.Second}, "ConnectTimeout"},
		{Options{ReconnectBackoff: -time.Second}, "ReconnectBackoff"},
	} {
		err := tc.opts.validate()
		if err == nil || !strings.Contains(err.Error(), "Options."+tc.field) {
			t.Errorf("%+v: err = %v, want one naming Options.%s", tc.opts, err, tc.field)
		}
	}
}

func TestOpenRejectsBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		url  string
		opts Options
		want string
	}{
		{"postgres://x/y", Options{MaxConns: maxConnsLimit + 1}, "Options.MaxConns"},
		{"postgres://x/y", Options{MaxBatch: -5}, "Options.MaxBatch"},
		{"postgres://%zz", Options{}, "url"},
		// Nothing listens on port 1: Open fails rather than start half-working.
		{"postgres://postgres@127.0.0.1:1/x?sslmode=disable", Options{ConnectTimeout: time.Second}, "connect"},
	} {
		s, err := Open(ctx, tc.url, tc.opts)
		if err == nil {
			s.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q, %+v) = %v, want an error naming %q", tc.url, tc.opts, err, tc.want)
		}
	}
}
