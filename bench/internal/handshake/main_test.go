package handshake

import (
	"testing"

	"github.com/switchboard-chat/switchboard/bench/internal/runnertest"
)

// TestMain fails the package if goroutines started by the tests outlive
// them.
func TestMain(m *testing.M) { runnertest.Main(m) }
