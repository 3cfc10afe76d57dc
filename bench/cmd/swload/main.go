// Command swload is switchboard's load generator: `swload <scenario>
// [flags]`. Scenario code lives in bench/internal/<scenario>; this file only
// dispatches.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/switchboard-chat/switchboard/bench/internal/chat"
	"github.com/switchboard-chat/switchboard/bench/internal/echo"
	"github.com/switchboard-chat/switchboard/bench/internal/fanout"
	"github.com/switchboard-chat/switchboard/bench/internal/handshake"
	"github.com/switchboard-chat/switchboard/bench/internal/idle"
)

type scenario struct {
	name, help string
	run        func(args []string) error
}

var scenarios = []scenario{
	{"idle", "ramp idle WebSocket connections against a server and report memory and CPU per connection", idle.Run},
	{"idle-report", "combine idle results into one side-by-side table and an SVG plot", idle.RunReport},
	{"idle-worker", "(internal) a load worker process driven by `swload idle` over stdin/stdout",
		func(args []string) error { return idle.RunWorker(args, os.Stdin, os.Stdout) }},
	{"echo", "echo load (closed or open loop) against a server: msgs/s, latency percentiles, CPU per message", echo.Run},
	{"echo-report", "combine echo results into one side-by-side table with ratios and an SVG chart", echo.RunReport},
	{"echo-worker", "(internal) an echo load worker process driven by `swload echo` over stdin/stdout",
		func(args []string) error { return echo.RunWorker(args, os.Stdin, os.Stdout) }},
	{"handshake", "connection churn (connect, upgrade, one echo, close): connections/s, upgrade latency percentiles", handshake.Run},
	{"handshake-report", "combine handshake results into one side-by-side table with ratios and an SVG chart", handshake.RunReport},
	{"handshake-worker", "(internal) a handshake load worker process driven by `swload handshake` over stdin/stdout",
		func(args []string) error { return handshake.RunWorker(args, os.Stdin, os.Stdout) }},
	{"chat", "a chat mix against switchboard (joins, publishes, typing, reads, reconnects with since): acked msgs/s, latency, no gap or duplicate", chat.Run},
	{"chat-worker", "(internal) a chat load worker process driven by `swload chat` over stdin/stdout",
		func(args []string) error { return chat.RunWorker(args, os.Stdin, os.Stdout) }},
	{"fanout", "R rooms × M members, open-loop publishers: deliveries/s, publish→deliver latency, seq gaps", fanout.Run},
	{"fanout-report", "combine fanout results into one side-by-side table and an SVG chart of latency percentiles", fanout.RunReport},
	{"fanout-worker", "(internal) a fanout load worker process driven by `swload fanout` over stdin/stdout",
		func(args []string) error { return fanout.RunWorker(args, os.Stdin, os.Stdout) }},
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: swload <scenario> [flags]\n\nscenarios:\n")
	for _, s := range scenarios {
		fmt.Fprintf(os.Stderr, "  %-14s %s\n", s.name, s.help)
	}
	fmt.Fprintf(os.Stderr, "\nswload <scenario> -h shows a scenario's flags.\n")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	for _, s := range scenarios {
		if s.name == os.Args[1] {
			if err := s.run(os.Args[2:]); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					os.Exit(2)
				}
				fmt.Fprintf(os.Stderr, "swload %s: %v\n", s.name, err)
				os.Exit(1)
			}
			return
		}
	}
	if os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		return
	}
	fmt.Fprintf(os.Stderr, "swload: unknown scenario %q\n\n", os.Args[1])
	usage()
	os.Exit(2)
}
