package postgres

import (
	"testing"

	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/servicetest"
	"github.com/switchboard-chat/switchboard/store/storetest"
)

// openTest opens a store on a fresh database, closed when t ends.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	url := servicetest.PostgresURL(t)
	s, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, Options{}) })
}
