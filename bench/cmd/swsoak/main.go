// Command swsoak runs switchboard under mixed chat load with churn for a
// long time and reports whether memory, goroutines, descriptors or latency
// grow, and whether any acknowledged message was lost. scripts/soak.sh
// (make soak) builds and runs it; the logic is in bench/internal/soak.
package main

import (
	"fmt"
	"os"

	"github.com/switchboard-chat/switchboard/bench/internal/soak"
)

func main() {
	if err := soak.Run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "swsoak:", err)
		os.Exit(1)
	}
}
