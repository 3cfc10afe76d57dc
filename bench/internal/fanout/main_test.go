package fanout

import (
	"testing"

	"github.com/switchboard-chat/switchboard/bench/internal/runnertest"
)

// TestMain fails the package if goroutines started by the tests (workers,
// the peer server) outlive them.
func TestMain(m *testing.M) { runnertest.Main(m) }
