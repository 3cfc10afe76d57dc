package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/switchboard-chat/switchboard/sysctl"
)

// preflight is `switchboard preflight [--conns N] [--backend B] [--proc
// DIR]`: it says whether this host can hold N connections, what caps it
// and the exact fix, and fails when something caps the target.
func preflight(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("preflight", flag.ContinueOnError)
	conns := fs.Uint64("conns", 1_000_000, "connection target")
	backends := make([]string, 0, len(sysctl.Costs))
	for b := range sysctl.Costs {
		backends = append(backends, b)
	}
	sort.Strings(backends)
	backend := fs.String("backend", "epoll", "poller backend whose measured memory per connection to use: "+strings.Join(backends, " or "))
	proc := fs.String("proc", "/proc", "procfs to read (a copy of another host's, say)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("preflight: unexpected arguments %q", fs.Args())
	}
	cost, ok := sysctl.Costs[*backend]
	if !ok {
		return fmt.Errorf("preflight: --backend must be %s, got %q", strings.Join(backends, " or "), *backend)
	}
	if *conns == 0 {
		return errors.New("preflight: --conns must be positive")
	}
	host, err := sysctl.ReadHost(os.DirFS(*proc))
	if err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	r := sysctl.Preflight(host, *conns, cost)
	r.Write(stdout)
	if r.Failed() {
		return fmt.Errorf("preflight: %d connections cannot be held here (about %d can)", *conns, r.MaxConns())
	}
	return nil
}
